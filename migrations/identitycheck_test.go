package migrations_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/internal/pgtest"
)

// The rules of migration 6's domains_check_identity, as it wrote them.
const (
	idRuleOf6        = `$1 ~ '^dom_[0-9a-z]{1,60}$'`
	nameRuleOf6      = `length($1) <= 253 AND $1 ~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'`
	registrarRuleOf6 = `$1 ~ '^[a-z][a-z0-9_]{0,31}$'`
)

// TestCheaperIdentityChecksKeepTheRules inserts domains whose id, name or
// registrar is an edge case or a random string and checks that migration
// 12's trigger accepts exactly what migration 6's rules accepted.
func TestCheaperIdentityChecksKeepTheRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	rng := rand.New(rand.NewPCG(12, 6))
	label := func(n int) string { return strings.Repeat("a", n) }
	ids := []string{"dom_a", "dom_" + label(60), "dom_" + label(61), "dom_", "dom_A", "dom_a-b", "dom_a_b", "xdom_a", "dom_a\n", "Dom_a", "dom_0"}
	names := []string{
		"a.se", "a-b.se", "xn--bcher-kva.de", label(63) + ".se", label(64) + ".se", "a." + label(63), "a." + label(64),
		strings.Repeat(label(49)+".", 5) + "se", strings.Repeat(label(49)+".", 5) + "sex", strings.Repeat(label(50)+".", 5) + "se",
		"-a.se", "a-.se", "a..se", ".a.se", "a.se.", "A.se", "a_b.se", "a.se\n", "se", "a.-", "1.2", "a b.se", "ä.se",
	}
	registrars := []string{"sim", "s", label(32), label(33), "1sim", "Sim", "s-im", "s_im", "s9", "_s", ""}
	// Random strings of the right characters, whose lengths decide, and of
	// a few wrong ones.
	for range 300 {
		ids = append(ids, randomText(rng, "dom_", "az09", 66), randomText(rng, "dom_", "az09-_A.", 12))
		registrars = append(registrars, randomText(rng, "", "az09_", 36), randomText(rng, "", "az09_-A", 8))
		var labels []string
		for range 1 + rng.IntN(6) {
			labels = append(labels, randomText(rng, "", "az09-", 70))
		}
		names = append(names, strings.Join(labels, "."), randomText(rng, "", "az09-._A", 16))
	}

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	n := 0
	check := func(column, rule, value string) {
		t.Helper()
		n++
		row := map[string]string{"id": fmt.Sprintf("dom_case%d", n), "name": fmt.Sprintf("case%d.se", n), "registrar": "sim"}
		row[column] = value
		var want bool
		require.NoError(t, tx.QueryRow(ctx, `SELECT coalesce(`+rule+`, false)`, value).Scan(&want))
		// Each insert is rolled back, so that random values may repeat.
		err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
			if _, err := sp.Exec(ctx, `INSERT INTO regsync.domains (id, name, registrar) VALUES ($1, $2, $3)`, row["id"], row["name"], row["registrar"]); err != nil {
				return err
			}
			return errInserted
		})
		if want {
			require.ErrorIs(t, err, errInserted, "%s %q", column, value)
			return
		}
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr, "%s %q: want a check violation", column, value)
		require.Equal(t, "domains_"+column+"_check", pgErr.ConstraintName, "%s %q", column, value)
	}
	for _, id := range ids {
		check("id", idRuleOf6, id)
	}
	for _, name := range names {
		check("name", nameRuleOf6, name)
	}
	for _, r := range registrars {
		check("registrar", registrarRuleOf6, r)
	}
}

// errInserted rolls a successful insert back.
var errInserted = errors.New("inserted")

// randomText returns prefix and up to maxLen-len(prefix) characters drawn
// from alphabet.
func randomText(rng *rand.Rand, prefix, alphabet string, maxLen int) string {
	var b strings.Builder
	b.WriteString(prefix)
	for range rng.IntN(maxLen - len(prefix) + 1) {
		b.WriteByte(alphabet[rng.IntN(len(alphabet))])
	}
	return b.String()
}
