package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

// report holds a scenario's figures and its invariants' results.
type report struct {
	scenario                      scenario
	domains, transfers, processes int
	elapsed                       time.Duration

	statusJobs, transferJobs, outcomes, attempts int
	errorOutcomes, reverts, confirmGaveUps       int
	rescued, accessErrors                        int
	kills, postgresRestarts                      int
	faults                                       []string

	invariants []invariant
	failures   []string
}

// invariant is one check, how often it was violated and a few of the
// violations.
type invariant struct {
	name       string
	violations int
	examples   []string
}

func (r *report) addFault(format string, args ...any) {
	r.faults = append(r.faults, fmt.Sprintf(format, args...))
}

// fail records a failure that is not one of the invariants.
func (r *report) fail(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *report) violations() int {
	n := len(r.failures)
	for _, inv := range r.invariants {
		n += inv.violations
	}
	return n
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "scenario %s: %s\n", r.scenario.name, r.scenario.fault)
	fmt.Fprintf(w, "  run: %d domains, %d transfers, %d processes, %.0fs; %d status_sync and %d transfer_retry jobs, %d outcomes, %d transfer attempts\n",
		r.domains, r.transfers, r.processes, r.elapsed.Seconds(), r.statusJobs, r.transferJobs, r.outcomes, r.attempts)
	fmt.Fprintf(w, "  figures: %d syncs recorded a registrar error, %d reverts (%d after failed confirming reads), %d jobs rescued, %d registrar calls refused or not configured\n",
		r.errorOutcomes, r.reverts, r.confirmGaveUps, r.rescued, r.accessErrors)
	if r.kills > 0 || r.postgresRestarts > 0 {
		fmt.Fprintf(w, "  fault: %d SIGKILLs of worker processes, %d PostgreSQL crash-restart\n", r.kills, r.postgresRestarts)
	}
	for _, f := range r.faults {
		fmt.Fprintf(w, "  fault: %s\n", f)
	}
	for _, inv := range r.invariants {
		verdict := "ok  "
		if inv.violations > 0 {
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "  %s %-62s %d\n", verdict, inv.name, inv.violations)
		for _, e := range inv.examples {
			fmt.Fprintf(w, "         e.g. %s\n", e)
		}
	}
	for _, f := range r.failures {
		fmt.Fprintf(w, "  FAIL %s\n", f)
	}
	fmt.Fprintf(w, "  violations: %d\n", r.violations())
}

// invariantQueries find the violations of each invariant the database can
// tell, one row naming each.
var invariantQueries = []struct {
	name, query string
}{
	{"every domain synced (domains never synced)", `SELECT d.id FROM regsync.domains d
		WHERE NOT EXISTS (SELECT 1 FROM regsync.status_sync_outcomes o WHERE o.domain_id = d.id)`},
	// The periodic sweep and gauges jobs are left out: each is replaced by
	// the next period's, which does the same work.
	{"every job ended (jobs not ended)", `SELECT format('%s job %s is %s', kind, id, state) FROM regsync.river_job
		WHERE kind IN ('status_sync', 'transfer_retry') AND state NOT IN ('completed', 'cancelled', 'discarded')`},
	{"no job discarded after exhausting its attempts", `SELECT format('%s job %s: %s', kind, id, errors[array_length(errors, 1)]->>'error')
		FROM regsync.river_job WHERE kind IN ('status_sync', 'transfer_retry') AND state = 'discarded'`},
	{"exactly one outcome per completed status_sync run", `SELECT format('job %s: %s outcomes of its last run', j.id, n) FROM regsync.river_job j,
		LATERAL (SELECT count(*) AS n FROM regsync.status_sync_outcomes o WHERE o.job_id = j.id AND o.job_attempted_at = j.attempted_at) o
		WHERE j.kind = 'status_sync' AND j.state = 'completed' AND n <> 1`},
	{"exactly one attempt row per completed transfer_retry run", `SELECT format('job %s: %s attempt rows of its last run', j.id, n) FROM regsync.river_job j,
		LATERAL (SELECT count(*) AS n FROM regsync.transfer_attempts a WHERE a.job_id = j.id AND a.job_attempted_at = j.attempted_at) a
		WHERE j.kind = 'transfer_retry' AND j.state = 'completed' AND n <> 1`},
	{"no job run recorded twice", `SELECT format('job %s: %s outcomes of the run at %s', job_id, count(*), job_attempted_at)
		FROM regsync.status_sync_outcomes WHERE job_id IS NOT NULL GROUP BY job_id, job_attempted_at HAVING count(*) > 1
		UNION ALL
		SELECT format('job %s: %s attempt rows of the run at %s', job_id, count(*), job_attempted_at)
		FROM regsync.transfer_attempts WHERE job_id IS NOT NULL GROUP BY job_id, job_attempted_at HAVING count(*) > 1`},
	{"no domain synced by two runs at once", `SELECT format('%s: outcomes %s and %s overlap', a.domain_id, a.id, b.id)
		FROM regsync.status_sync_outcomes a
		JOIN regsync.status_sync_outcomes b ON b.domain_id = a.domain_id AND b.id > a.id
		WHERE tstzrange(a.started_at, a.finished_at, '[]') && tstzrange(b.started_at, b.finished_at, '[]')`},
	{"no unconfirmed change left", `SELECT id FROM regsync.domains WHERE unconfirmed_from_status IS NOT NULL`},
	{"no revert without a contradicting registrar answer", `SELECT format('%s: outcome %s', domain_id, id) FROM regsync.status_sync_outcomes
		WHERE revert_attempted
		AND NOT (raw_status_second IS NOT NULL AND raw_status_second IS DISTINCT FROM raw_status_first)
		AND coalesce(double_sync_error, '') NOT LIKE 'the registrar did not confirm the change: %'`},
	// The attempt that decided a final state is the last one that changed
	// the state. Skipped attempts (a rescued job's rerun, say) and
	// superseded ones change nothing, whatever they saw.
	{"no transfer final because of a transient fault", `SELECT format('%s %s: attempt %s %s (HTTP %s)', t.id, t.state, decided.id, decided.result, decided.http_status)
		FROM regsync.transfers t
		JOIN LATERAL (SELECT a.id, a.result, a.http_status FROM regsync.transfer_attempts a
			WHERE a.transfer_id = t.id AND a.result NOT IN ('skipped', 'superseded')
			AND a.state_after IS DISTINCT FROM a.state_before ORDER BY a.id DESC LIMIT 1) decided ON true
		WHERE t.state IN ('completed', 'closed', 'forbidden', 'expired', 'failed')
		AND (decided.result IN ('credentials_refused', 'not_configured', 'unavailable', 'rate_limited', 'interrupted')
			OR (t.state = 'forbidden' AND decided.http_status IS DISTINCT FROM 403))`},
	{"no open transfer left due", `SELECT format('%s %s, due since %s', id, state, next_retry_at) FROM regsync.transfers
		WHERE state IN ('blocked', 'in_progress') AND next_retry_at <= now() - interval '30 seconds'`},
}

// check runs the invariants and fills in the figures.
func (h *harness) check(ctx context.Context) error {
	r := h.rep
	figures := []struct {
		into  *int
		query string
	}{
		{&r.statusJobs, `SELECT count(*) FROM regsync.river_job WHERE kind = 'status_sync'`},
		{&r.transferJobs, `SELECT count(*) FROM regsync.river_job WHERE kind = 'transfer_retry'`},
		{&r.outcomes, `SELECT count(*) FROM regsync.status_sync_outcomes`},
		{&r.attempts, `SELECT count(*) FROM regsync.transfer_attempts`},
		{&r.errorOutcomes, `SELECT count(*) FROM regsync.status_sync_outcomes WHERE NOT sync_success`},
		{&r.reverts, `SELECT count(*) FROM regsync.status_sync_outcomes WHERE revert_attempted`},
		{&r.confirmGaveUps, `SELECT count(*) FROM regsync.status_sync_outcomes WHERE double_sync_error LIKE 'the registrar did not confirm the change: %'`},
		{&r.rescued, `SELECT count(*) FROM regsync.river_job WHERE errors::text LIKE '%rescued by JobRescuer%'`},
	}
	for _, f := range figures {
		if err := h.pool.QueryRow(ctx, f.query).Scan(f.into); err != nil {
			return err
		}
	}
	for _, q := range invariantQueries {
		rows, _ := h.pool.Query(ctx, q.query)
		found, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("check %q: %w", q.name, err)
		}
		r.invariants = append(r.invariants, invariant{name: q.name, violations: len(found), examples: found[:min(len(found), 3)]})
	}
	unexplained, err := h.unexplainedStatuses(ctx)
	if err != nil {
		return err
	}
	r.invariants = append(r.invariants, invariant{name: "no domain in a status no registrar read reported", violations: unexplained})
	leaks, err := h.secretLeaks(ctx)
	if err != nil {
		return err
	}
	r.invariants = append(r.invariants, invariant{name: "no secret in any table, log or metric", violations: leaks})
	r.accessErrors = int(sumCounter(h.scraped, "regsync_registrar_access_errors_total"))
	return nil
}

// unexplainedStatuses counts the domains in a status that no registrar
// read of theirs reported, other than the one they started with.
func (h *harness) unexplainedStatuses(ctx context.Context) (int, error) {
	rows, err := h.pool.Query(ctx, `
		SELECT d.id, d.status, coalesce(array_agg(DISTINCT r.raw) FILTER (WHERE r.raw IS NOT NULL), '{}')
		FROM regsync.domains d
		LEFT JOIN regsync.status_sync_outcomes o ON o.domain_id = d.id
		LEFT JOIN LATERAL (VALUES (o.raw_status_first), (o.raw_status_second)) r(raw) ON true
		GROUP BY d.id, d.status`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	unexplained := 0
	for rows.Next() {
		var id string
		var status registrar.Status
		var raws []string
		if err := rows.Scan(&id, &status, &raws); err != nil {
			return 0, err
		}
		explained := status == h.pop.initialStatus[id]
		for _, raw := range raws {
			explained = explained || registrar.MapHostup(raw) == status
		}
		if !explained {
			unexplained++
		}
	}
	return unexplained, rows.Err()
}

// secretLeaks counts the secrets (the registrar token and every authInfo)
// found in the database, the processes' logs or the scraped metrics.
func (h *harness) secretLeaks(ctx context.Context) (int, error) {
	st := store.New(h.pool)
	texts := append(logs(h.dir), h.scraped...)
	leaks := 0
	for _, s := range append([]string{registrarToken}, h.pop.authInfos...) {
		tables, err := st.TablesContaining(ctx, s)
		if err != nil {
			return 0, fmt.Errorf("search the database for secrets: %w", err)
		}
		leaks += len(tables)
		for _, text := range texts {
			if strings.Contains(text, s) {
				leaks++
			}
		}
	}
	return leaks, nil
}

// sumCounter adds up the samples of a counter family across metrics pages.
func sumCounter(pages []string, name string) float64 {
	sum := 0.0
	for _, page := range pages {
		for line := range strings.Lines(page) {
			if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
				continue
			}
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
				sum += v
			}
		}
	}
	return sum
}
