package postgres

import (
	"context"
	"fmt"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store/internal/rowcodec"
)

// PutAlert stores an alert, or its end: one row per alert id.
func (d *DB) PutAlert(ctx context.Context, a model.Alert) error {
	e, err := rowcodec.EncodeAlert(a)
	if err != nil {
		return err
	}
	if _, err := d.pool.Exec(ctx, `
INSERT INTO alerts (`+rowcodec.AlertColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (id) DO UPDATE SET end_ns = excluded.end_ns, wall_end = excluded.wall_end`,
		a.ID, a.Rule, a.StreamID, a.Severity, a.Message, int64(a.Start), int64(a.Fired), e.End, e.WallStart, e.WallEnd,
		e.Values, e.TrackIDs); err != nil {
		return fmt.Errorf("put alert %q: %w", a.ID, err)
	}
	return nil
}

// Alerts lists alerts by wall start, then id.
func (d *DB) Alerts(ctx context.Context, q model.AlertQuery) ([]model.Alert, error) {
	limit := int64(q.Limit)
	if limit <= 0 {
		limit = -1
	}
	rows, err := d.pool.Query(ctx, `SELECT id, rule, stream_id, severity, message, start_ns, fired_ns, end_ns, wall_start, wall_end,
	alert_values::text, track_ids::text FROM alerts
WHERE ($1 = '' OR stream_id = $1) AND ($2 = '' OR rule = $2) AND ($3::bigint IS NULL OR wall_start >= $3) AND ($4::bigint IS NULL OR wall_start < $4)
ORDER BY wall_start, id LIMIT CASE WHEN $5::bigint < 0 THEN NULL ELSE $5::bigint END`,
		q.StreamID, q.Rule, rowcodec.UnixNS(q.From), rowcodec.UnixNS(q.To), limit)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	defer rows.Close()
	out, err := rowcodec.Collect(rows, rowcodec.ScanAlert)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	return out, nil
}

// PutRule creates or replaces a rule added through the API.
func (d *DB) PutRule(ctx context.Context, r model.StoredRule) error {
	if r.Name == "" || len(r.Spec) == 0 {
		return fmt.Errorf("put rule %q: name and spec are required", r.Name)
	}
	if _, err := d.pool.Exec(ctx, `INSERT INTO api_rules (name, spec, added_at) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, added_at = excluded.added_at`, r.Name, r.Spec, rowcodec.UnixNS(r.AddedAt)); err != nil {
		return fmt.Errorf("put rule %q: %w", r.Name, err)
	}
	return nil
}

// DeleteRule removes a rule added through the API, if there is one.
func (d *DB) DeleteRule(ctx context.Context, name string) error {
	if _, err := d.pool.Exec(ctx, `DELETE FROM api_rules WHERE name = $1`, name); err != nil {
		return fmt.Errorf("delete rule %q: %w", name, err)
	}
	return nil
}

// StoredRules lists the rules added through the API, by name.
func (d *DB) StoredRules(ctx context.Context) ([]model.StoredRule, error) {
	rows, err := d.pool.Query(ctx, `SELECT name, spec, added_at FROM api_rules ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	defer rows.Close()
	out, err := rowcodec.Collect(rows, rowcodec.ScanStoredRule)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return out, nil
}
