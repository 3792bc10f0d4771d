package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// TablesContaining returns every table of the database, River's included,
// in which some row, read as text, contains value. It audits that secrets
// are stored only sealed; it reads every row, so it is for tests and
// checks, not for a hot path.
func (s *Store) TablesContaining(ctx context.Context, value string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT table_schema, table_name FROM information_schema.tables
		WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pgx.Identifier, error) {
		var schema, name string
		err := row.Scan(&schema, &name)
		return pgx.Identifier{schema, name}, err
	})
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var found []string
	for _, table := range tables {
		var hit bool
		err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+table.Sanitize()+` AS r WHERE strpos(r::text, $1) > 0)`, value).Scan(&hit)
		if err != nil {
			return nil, fmt.Errorf("search %s: %w", table.Sanitize(), err)
		}
		if hit {
			found = append(found, table.Sanitize())
		}
	}
	return found, nil
}
