package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// scenario is one named fault and how the harness injects it.
type scenario struct {
	name, fault string
	// share is the percent of the population scripted with scripts.
	share   int
	scripts []domainScript
	// env and args are added to the worker processes' environment and
	// serve flags.
	env, args []string
	// inject injects the fault while the work runs, and returns when the
	// injection is over. It must be bounded in time.
	inject func(ctx context.Context, h *harness) error
}

func (s scenario) dbName() string { return strings.ReplaceAll(s.name, "-", "_") }

func scenarioNames() []string {
	return []string{"kills", "credentials", "row-locks", "connection-kills", "slow-confirm", "hostile-bodies"}
}

var scenarios = map[string]scenario{
	"kills": {
		name: "kills", fault: "SIGKILLs of worker processes mid-run and a PostgreSQL crash-restart",
		inject: injectKills,
	},
	"credentials": {
		name: "credentials", fault: "the registrar answers 401 to every request for a while, then recovers",
		inject: injectCredentialsOutage,
	},
	"row-locks": {
		name: "row-locks", fault: "an outside writer holds domain and transfer rows for longer than the job timeout",
		inject: injectRowLocks,
	},
	"connection-kills": {
		name: "connection-kills", fault: "pg_terminate_backend on regsync's connections at random, also around commits",
		inject: injectConnectionKills,
	},
	"slow-confirm": {
		name: "slow-confirm", fault: "confirming reads slower than the job timeout (2 s job timeout, 4 s answers)",
		share: 30,
		scripts: []domainScript{
			{40, "active", []string{"expired", "!slow:4s:expired", "expired"}, false, 1},
			{30, "active", []string{"suspended", "!slow:4s:active", "suspended"}, false, 1},
			{30, "active", []string{"expired", "!slow:4s:expired", "active"}, false, 1},
		},
		// The registrar's own timeout outlasts the job's, so the job's
		// timeout is what cuts the slow reads short.
		env:    []string{"REGSYNC_HOSTUP_TIMEOUT=10s"},
		args:   []string{"--job-timeout", "2s"},
		inject: func(context.Context, *harness) error { return nil },
	},
	"hostile-bodies": {
		name: "hostile-bodies", fault: "registrar answers with NUL bytes, invalid UTF-8 and huge fields",
		share: 20,
		scripts: []domainScript{
			{30, "active", []string{"!nul", "active"}, false, 1},
			{25, "pending", []string{"!hugefield", "active"}, false, 1},
			{25, "active", []string{"!hugeerror", "active"}, false, 1},
			{20, "active", []string{"!nul"}, false, 1},
		},
		inject: func(context.Context, *harness) error { return nil },
	},
}

// injectKills kills a random worker every few seconds and restarts it,
// and crash-restarts PostgreSQL half-way.
func injectKills(ctx context.Context, h *harness) error {
	rng := rand.New(rand.NewPCG(h.seed, 2))
	restartAt := h.opts.kills / 2
	for h.rep.kills < h.opts.kills {
		time.Sleep(time.Duration(1500+rng.IntN(1500)) * time.Millisecond)
		if h.rep.kills == restartAt && h.rep.postgresRestarts == 0 {
			if err := h.cluster.Restart(ctx); err != nil {
				return fmt.Errorf("restart PostgreSQL: %w", err)
			}
			h.rep.postgresRestarts++
		}
		victim := h.workers[rng.IntN(len(h.workers))]
		h.scrape(victim)
		if err := victim.kill(); err != nil {
			return err
		}
		h.rep.kills++
		if err := victim.start(); err != nil {
			return err
		}
	}
	return nil
}

// injectCredentialsOutage makes the simulator refuse regsync's
// credentials for a while, after the work has started.
func injectCredentialsOutage(_ context.Context, h *harness) error {
	outage := 12 * time.Second
	if h.opts.small {
		outage = 6 * time.Second
	}
	time.Sleep(2 * time.Second)
	body, _ := json.Marshal(map[string]any{"status": 401, "for": outage.String()})
	if err := put(h.simURL+"/sim/outage", body); err != nil {
		return err
	}
	h.rep.addFault("1 outage of %s: every registrar request answered 401", outage)
	time.Sleep(outage)
	return nil
}

// injectRowLocks holds, in rounds, a random part of the domain and
// transfer rows in an outside transaction for longer than the job timeout,
// and meanwhile asks for syncs and retries of the held rows through the
// SQL enqueue functions, so that jobs meet the locks.
func injectRowLocks(ctx context.Context, h *harness) error {
	rounds, hold := 4, 7*time.Second
	if h.opts.small {
		rounds = 2
	}
	domains, transfers := 0, 0
	for range rounds {
		time.Sleep(time.Second)
		err := pgx.BeginFunc(ctx, h.pool, func(tx pgx.Tx) error {
			var d, t []string
			rows, err := tx.Query(ctx, `SELECT id FROM regsync.domains WHERE random() < 0.03 FOR UPDATE SKIP LOCKED`)
			if err != nil {
				return err
			}
			if d, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
				return err
			}
			rows, err = tx.Query(ctx, `SELECT id FROM regsync.transfers WHERE random() < 0.2 FOR UPDATE SKIP LOCKED`)
			if err != nil {
				return err
			}
			if t, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
				return err
			}
			for _, id := range d {
				if _, err := h.pool.Exec(ctx, `SELECT regsync.enqueue_status_sync($1)`, id); err != nil {
					return err
				}
			}
			for _, id := range t {
				if _, err := h.pool.Exec(ctx, `SELECT regsync.enqueue_transfer_retry($1)`, id); err != nil {
					return err
				}
			}
			domains, transfers = domains+len(d), transfers+len(t)
			time.Sleep(hold)
			return nil
		})
		if err != nil {
			return err
		}
	}
	h.rep.addFault("%d rounds holding %d domain rows and %d transfer rows for %s each, their syncs and retries enqueued meanwhile",
		rounds, domains, transfers, hold)
	return nil
}

// injectConnectionKills terminates one of the workers' database
// connections every 150 ms, preferring one that is writing or committing.
func injectConnectionKills(ctx context.Context, h *harness) error {
	duration := 30 * time.Second
	if h.opts.small {
		duration = 10 * time.Second
	}
	killed, aroundWrites := 0, 0
	for deadline := time.Now().Add(duration); time.Now().Before(deadline); time.Sleep(150 * time.Millisecond) {
		var writing *bool
		err := h.pool.QueryRow(ctx, `
			WITH victim AS (
				SELECT pid, state = 'active' AND (query ILIKE '%INSERT INTO regsync.%' OR query ILIKE '%UPDATE regsync.%' OR query ILIKE 'COMMIT%') AS writing
				FROM pg_stat_activity
				WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid()
				ORDER BY 2 DESC, random()
				LIMIT 1
			)
			SELECT writing FROM victim WHERE pg_terminate_backend(pid)`, workerApplicationName).Scan(&writing)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		default:
			killed++
			if *writing {
				aroundWrites++
			}
		}
	}
	h.rep.addFault("%d worker connections terminated over %s, %d of them while writing or committing", killed, duration, aroundWrites)
	return nil
}
