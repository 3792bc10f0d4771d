package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/internal/pgtest"
)

// snapshot returns every column of every domain, to tell whether anything
// changed.
func snapshot(t *testing.T, databaseURL string) string {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), databaseURL)
	require.NoError(t, err)
	defer pool.Close()
	var all string
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT coalesce(jsonb_agg(to_jsonb(d) ORDER BY id)::text, '') FROM regsync.domains d`).Scan(&all))
	return all
}

// rejectedLines returns the lines of stderr that report a rejected line.
func rejectedLines(stderr string) []string {
	var out []string
	for line := range strings.Lines(stderr) {
		if strings.HasPrefix(line, "line ") {
			out = append(out, strings.TrimSuffix(line, "\n"))
		}
	}
	return out
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// TestDomainImportCSV imports a CSV file with a bad line of every kind:
// each is listed with its number and reason and changes nothing, the good
// lines go in, and the exit code is 1.
func TestDomainImportCSV(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	databaseURL := pgtest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": databaseURL}
	r := regsync(ctx, env, "domain", "add", "dom_held", "taken.se", "--registrar", "sim")
	require.Equal(t, 0, r.code, r.stderr)
	path := writeFile(t, "domains.csv", "\uFEFF"+`id, Name ,registrar,status,sync_interval
dom_ok1,Example.COM,hostup,active,
dom_ok2,bücher.de,sim,,12h
DOM3,three.se,sim,,
dom_4,www.example.com,sim,,
dom_5,five.se,hostpu,,
dom_6,six.se,sim,gone,
dom_7,seven.se,sim,,soon
dom_8,eight.se,sim
dom_9,ni"ne.se,sim,,
dom_ok1,again.se,sim,,
dom_10,example.com,sim,,
dom_ok3,"  quoted.se ",epp,unknown,7d
,ten.se,sim,,
dom_11,,sim,,

dom_12,taken.se,sim,,
dom_13,"thirteen
.se",sim,,
dom_ok4,last.se,sim,,`)
	r = regsync(ctx, env, "domain", "import", path)
	require.Equal(t, 1, r.code, r.stderr)
	require.Equal(t, []string{
		`line 4: invalid domain id "DOM3": want dom_ followed by 1 to 60 lower-case letters or digits`,
		`line 5: invalid domain name "www.example.com": it is a subdomain; the registered domain is "example.com"`,
		`line 6: unknown registrar "hostpu": want one of epp, hostup, hostway, rdap, sim`,
		`line 7: invalid status "gone": want one of pending, active, suspended, terminated, cancelled, expired, fraud, unknown`,
		`line 8: invalid sync interval "soon": want a duration of at least 1s, such as 12h or 7d`,
		`line 9: 3 fields, want 5 as in the header`,
		`line 10: invalid CSV in line 10: bare " in non-quoted-field`,
		`line 11: domain id dom_ok1 is on line 2 already`,
		`line 12: domain name example.com is on line 2 already`,
		`line 14: the id is missing`,
		`line 15: the name is missing`,
		`line 17: domain name taken.se belongs to domain dom_held`,
		`line 18: invalid domain name "thirteen\n.se": "\n" is not allowed in a domain name: idna: disallowed rune U+000A`,
	}, rejectedLines(r.stderr))
	require.Regexp(t, `^imported \S+domains\.csv: 17 lines in \d+\.\ds: 4 added, 0 updated, 0 unchanged, 13 rejected\n$`, r.stdout)
	require.Contains(t, r.stderr, "regsync domain import: 13 of 17 lines rejected, listed above; the other lines are imported\n")
	require.Equal(t, []string{
		"dom_held taken.se sim unknown -",
		"dom_ok1 example.com hostup active -",
		"dom_ok2 xn--bcher-kva.de sim unknown 12:00:00",
		"dom_ok3 quoted.se epp unknown 168:00:00",
		"dom_ok4 last.se sim unknown -",
	}, domainRows(t, databaseURL))

	// A header that cannot be read imports nothing.
	for _, bad := range []struct{ content, want string }{
		{"id,name,registrar,colour\n", `CSV header: unknown column "colour"`},
		{"id,name,status\n", `CSV header: column "registrar" is missing`},
		{"id,name,registrar,name\n", `CSV header: column "name" is named twice`},
	} {
		before := snapshot(t, databaseURL)
		r := regsync(ctx, env, "domain", "import", writeFile(t, "bad.csv", bad.content+"dom_x,x.se,sim\n"))
		require.Equal(t, 1, r.code, bad.content)
		require.Contains(t, r.stderr, bad.want)
		require.Equal(t, before, snapshot(t, databaseURL))
	}
	r = regsync(ctx, env, "domain", "import", filepath.Join(t.TempDir(), "missing.csv"))
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "no such file or directory")
	r = regsync(ctx, env, "domain", "import", writeFile(t, "empty.csv", ""))
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, ": 0 lines in ")
}

// TestDomainImportJSONLines imports a JSON Lines file from stdin with a
// bad line of every kind JSON adds.
func TestDomainImportJSONLines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	databaseURL := pgtest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": databaseURL}
	input := `
  {"id": "dom_j1", "name": "Bücher.de", "registrar": "sim", "status": "active", "sync_interval": "12h"}
{"id": "dom_j2", "name": "j2.se", "registrar": "sim", "colour": "red"}
{"id": 5, "name": "j3.se", "registrar": "sim"}
["dom_j4", "j4.se", "sim"]
{"id": "dom_j5", "name": "j5.se", "registrar": "sim"} {"id": "dom_j6"}
{"id": "dom_j7", "name": "j7.se",
{"id": "dom_j8", "name": "j8.se", "registrar": "sim", "status": null}
{"id": "dom_j9", "name": "` + strings.Repeat("a", maxLineBytes) + `.se", "registrar": "sim"}
{"id": "dom_j10", "name": "j10.se", "registrar": "hostup", "status": "expired"}
{"id": "dom_j11", "ID": "dom_j12", "name": "j11.se", "registrar": "sim"}
{"id": "dom_j13", "id": "dom_j14", "name": "j13.se", "registrar": "sim"}`
	r := regsyncWithInput(ctx, input, env, "domain", "import", "-")
	require.Equal(t, 1, r.code, r.stderr)
	require.Equal(t, []string{
		`line 3: invalid JSON Lines: unknown field "colour"`,
		`line 4: invalid JSON Lines: "id" is a JSON number, want a string`,
		`line 5: invalid JSON Lines: the line is not a JSON object`,
		`line 6: invalid JSON Lines: more than one JSON value on the line`,
		`line 7: invalid JSON Lines: unexpected EOF`,
		fmt.Sprintf(`line 9: the line is longer than %d bytes`, maxLineBytes),
		`line 11: invalid JSON Lines: unknown field "ID"`,
		`line 12: invalid JSON Lines: field "id" is given twice`,
	}, rejectedLines(r.stderr))
	require.Regexp(t, `^imported -: 11 lines in \d+\.\ds: 3 added, 0 updated, 0 unchanged, 8 rejected\n$`, r.stdout)
	require.Equal(t, []string{
		"dom_j1 xn--bcher-kva.de sim active 12:00:00",
		"dom_j10 j10.se hostup expired -",
		"dom_j8 j8.se sim unknown -",
	}, domainRows(t, databaseURL))
}

// TestDomainImportBoundsACSVRecord imports a CSV file whose quote never
// closes: encoding/csv would hold the rest of the file as one field; the
// import stops once the record passes the line limit, says where, and
// changes nothing.
func TestDomainImportBoundsACSVRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	databaseURL := pgtest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": databaseURL}
	var input strings.Builder
	input.WriteString("id,name,registrar\ndom_b1,b1.se,sim\ndom_b2,\"b2.se,sim\n")
	for i := range 10_000 {
		fmt.Fprintf(&input, "dom_b%d,b%d.se,sim\n", i+3, i+3)
	}
	r := regsyncWithInput(ctx, input.String(), env, "domain", "import", "-")
	require.Equal(t, 1, r.code, r.stderr)
	require.Contains(t, r.stderr, fmt.Sprintf("the record after the one at line 2: a CSV record is longer than %d bytes (a quote never closed?); nothing was imported", maxLineBytes))
	require.Empty(t, domainRows(t, databaseURL))

	r = regsyncWithInput(ctx, "id,name,registrar"+strings.Repeat("x", 1<<20), env, "domain", "import", "-")
	require.Equal(t, 1, r.code, r.stderr)
	require.Contains(t, r.stderr, "read the CSV header line: a CSV record is longer than")
}

// TestDomainImportTwiceChangesNothing imports a file, then again: the
// second import changes no column of any domain. A third, with changes,
// updates what the README's rule says.
func TestDomainImportTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	databaseURL := pgtest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": databaseURL}
	path := writeFile(t, "domains.csv", "id,name,registrar,status\ndom_a,alpha.se,sim,active\ndom_b,bravo.se,hostup,\ndom_c,charlie.se,epp,pending\n")
	r := regsync(ctx, env, "domain", "import", path)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "3 added, 0 updated, 0 unchanged, 0 rejected")
	before := snapshot(t, databaseURL)
	r = regsync(ctx, env, "domain", "import", path)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "0 added, 0 updated, 3 unchanged, 0 rejected")
	require.Equal(t, before, snapshot(t, databaseURL))

	changed := writeFile(t, "changed.csv", "id,name,registrar,status,sync_interval\ndom_a,alpha.se,sim,suspended,\ndom_b,bravo2.se,hostup,,\ndom_c,charlie.se,epp,,1h\n")
	r = regsync(ctx, env, "domain", "import", changed)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "0 added, 2 updated, 1 unchanged, 0 rejected\n"+
		"existing domains whose line named another status, which was kept since syncs own it: 1\n")
	require.Equal(t, []string{
		"dom_a alpha.se sim active -",
		"dom_b bravo2.se hostup unknown -",
		"dom_c charlie.se epp pending 01:00:00",
	}, domainRows(t, databaseURL))
}

// TestDomainImportProgressLines imports 100,001 lines from stdin, which is
// not a terminal here: a plain progress line every 100,000 lines, then one
// when the reading is done.
func TestDomainImportProgressLines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	databaseURL := pgtest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": databaseURL}
	var input strings.Builder
	input.WriteString("id,name,registrar\n")
	const n = progressLinesEvery + 1
	for i := range n {
		fmt.Fprintf(&input, "dom_p%d,progress-%d.se,sim\n", i, i)
	}
	r := regsyncWithInput(ctx, input.String(), env, "domain", "import", "-")
	require.Equal(t, 0, r.code, r.stderr)
	require.Regexp(t, `^import: read 100000 lines in \d+\.\ds\n`+
		`import: read 100001 lines in \d+\.\ds; checking them and merging them into regsync.domains\n$`, r.stderr)
	require.Contains(t, r.stdout, fmt.Sprintf(": %d added, 0 updated", n))
}

func TestProgressBar(t *testing.T) {
	t.Parallel()
	require.Equal(t, "[###############...............]  50%  500 lines  3s", progressBar(500, 1000, 2000, 3*time.Second))
	require.Equal(t, "[##############################] 100%  9 lines  0s", progressBar(9, 2000, 2000, 0))
	require.Equal(t, "[..............................]   0%  0 lines  0s", progressBar(0, 0, 2000, 0))
	require.Equal(t, "12 lines  1s", progressBar(12, 400, 0, time.Second), "stdin: no size, no bar")
	require.Equal(t, "read 5 lines (25%) in 1.5s", progressLine(5, 500, 2000, 1500*time.Millisecond))
	require.False(t, isTerminal(&strings.Builder{}))
}

// TestImportProgressOnATerminal reads 3,000 lines with the progress of a
// terminal: bars redrawn in place, the last one full and ended by a
// newline, and no plain progress lines. How many bars are drawn between
// depends on the clock, so only the first and the last are checked.
func TestImportProgressOnATerminal(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	p := newImportProgress(&out, true, 3000, time.Now())
	for offset := int64(1); offset <= 3000; offset++ {
		p.read(offset)
	}
	p.doneReading(3000)
	require.Regexp(t, `^\r\[##########\.{20}\]  34%  1024 lines  \d+s\033\[K\r`, out.String())
	require.Regexp(t, `\r\[#{30}\] 100%  3000 lines  \d+s\033\[K\n`+
		`import: read 3000 lines in \d+\.\ds; checking them and merging them into regsync.domains\n$`, out.String())
	require.NotContains(t, out.String(), "import: read 1024")
}

// TestDomainCommandsOnTheDemoDatabase runs the demo as `make run` does,
// on a throwaway PostgreSQL of its own, and the domain commands against
// the database it prints, as the README tells: the imported domain is
// listed, synced by the demo's sweep, and shown with its outcome.
func TestDomainCommandsOnTheDemoDatabase(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	demo := &cli{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, demo, []string{"demo", "--domains", "30", "--registry-domains", "10", "--sweep-interval", "1s"})
	}()
	printed := regexp.MustCompile(`DATABASE_URL='([^']+)'`)
	var env map[string]string
	require.Eventually(t, func() bool {
		m := printed.FindStringSubmatch(stderr.String())
		if m != nil {
			env = map[string]string{"DATABASE_URL": m[1]}
		}
		return m != nil
	}, time.Minute, 50*time.Millisecond, "the demo prints its database")

	path := writeFile(t, "mine.csv", "id,name,registrar\ndom_mine1,mine-one.se,sim\ndom_mine2,Mine-Two.se,sim\n")
	r := regsync(ctx, env, "domain", "import", path)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, ": 2 added")
	r = regsync(ctx, env, "domain", "list", "--registrar", "sim")
	require.Equal(t, 0, r.code, r.stderr)
	require.Regexp(t, `(?m)^dom_mine2 +mine-two\.se +sim `, r.stdout)
	require.Eventually(t, func() bool {
		r := regsync(ctx, env, "domain", "show", "dom_mine1", "--json")
		var shown struct {
			Outcomes []map[string]any `json:"outcomes"`
		}
		return r.code == 0 && json.Unmarshal([]byte(r.stdout), &shown) == nil && len(shown.Outcomes) > 0
	}, time.Minute, 100*time.Millisecond, "the demo's sweep syncs the imported domain")

	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code, stderr.String())
	case <-time.After(time.Minute):
		t.Fatal("the demo did not stop")
	}
	require.Contains(t, stdout.String(), "regsync demo summary")
}
