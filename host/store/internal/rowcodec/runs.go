package rowcodec

import (
	"errors"
	"fmt"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/store"
)

// invalidError is an error that also matches store.ErrInvalid, its text
// unchanged.
type invalidError struct{ err error }

func (e *invalidError) Error() string   { return e.err.Error() }
func (e *invalidError) Unwrap() []error { return []error{e.err, store.ErrInvalid} }

// Invalid marks err as caused by the value being stored, so that
// errors.Is(err, store.ErrInvalid) holds; its text stays as it is. nil
// stays nil.
func Invalid(err error) error {
	if err == nil || errors.Is(err, store.ErrInvalid) {
		return err
	}
	return &invalidError{err}
}

// CheckStartRun checks the fields StartRun needs.
func CheckStartRun(r model.StreamRun) error {
	if r.RunID == "" || r.StreamID == "" {
		return fmt.Errorf("start run: run id %q and stream id %q must be set", r.RunID, r.StreamID)
	}
	return nil
}

// CheckEndRun checks EndRun's arguments.
func CheckEndRun(runID string, at time.Time) error {
	if runID == "" || at.IsZero() {
		return fmt.Errorf("end run %q: run id and end time must be set", runID)
	}
	return nil
}

// Gap is a gap ready to write.
type Gap struct {
	G                            model.Gap
	WallFrom, WallTo, RecordedAt *int64
}

// EncodeGap checks g for RecordGap (lost false: its stream must be set) or
// MarkRunLost (lost true: its run and WallFrom, which ends the run, must be
// set).
func EncodeGap(g model.Gap, lost bool) (Gap, error) {
	e := Gap{G: g, WallFrom: UnixNS(g.WallFrom), WallTo: UnixNS(g.WallTo), RecordedAt: UnixNS(g.RecordedAt)}
	switch {
	case lost && (g.RunID == "" || g.WallFrom.IsZero()):
		return e, fmt.Errorf("mark run %q lost: run id and wall_from must be set", g.RunID)
	case !lost && g.StreamID == "":
		return e, errors.New("record gap: stream id must be set")
	}
	return e, nil
}

// ScanStreamRun reads run_id, stream_id, started_at, ended_at, end_reason,
// then the summary: segments, last idx, its wall_end and media_end_ns
// (NULL when the run stored none).
func ScanStreamRun(sc Scanner) (model.StreamRun, error) {
	var (
		r                         model.StreamRun
		started, ended            *int64
		lastIdx, lastWall, lastMe *int64
	)
	if err := sc.Scan(&r.RunID, &r.StreamID, &started, &ended, &r.EndReason,
		&r.Segments, &lastIdx, &lastWall, &lastMe); err != nil {
		return r, err
	}
	r.StartedAt, r.EndedAt = FromUnixNS(started), FromUnixNS(ended)
	if lastIdx != nil {
		r.LastIndex = *lastIdx
	}
	r.LastWallEnd = FromUnixNS(lastWall)
	if lastMe != nil {
		r.LastMediaEnd = time.Duration(*lastMe)
	}
	return r, nil
}

// ScanGap reads stream_id, run_id, wall_from, wall_to, media_from_ns,
// reason, recorded_at.
func ScanGap(sc Scanner) (model.Gap, error) {
	var (
		g                  model.Gap
		from, to, recorded *int64
		mediaFrom          int64
	)
	if err := sc.Scan(&g.StreamID, &g.RunID, &from, &to, &mediaFrom, &g.Reason, &recorded); err != nil {
		return g, err
	}
	g.WallFrom, g.WallTo, g.RecordedAt = FromUnixNS(from), FromUnixNS(to), FromUnixNS(recorded)
	g.MediaFrom = time.Duration(mediaFrom)
	return g, nil
}

// CheckDesiredStream checks the fields PutDesiredStream needs.
func CheckDesiredStream(d model.DesiredStream) error {
	if d.ID == "" {
		return errors.New("put desired stream: empty id")
	}
	return nil
}

// ScanDesiredStream reads id, spec, base_dir, added_at. An empty spec
// comes back nil.
func ScanDesiredStream(sc Scanner) (model.DesiredStream, error) {
	var (
		d     model.DesiredStream
		spec  []byte
		added *int64
	)
	if err := sc.Scan(&d.ID, &spec, &d.BaseDir, &added); err != nil {
		return d, err
	}
	if len(spec) > 0 {
		d.Spec = append([]byte(nil), spec...) // a copy: the driver may reuse its buffer
	}
	d.AddedAt = FromUnixNS(added)
	return d, nil
}

// RunSelect reads stream runs with their summary: the count of their stored
// segments and the one of highest index (none: NULLs). Portable SQL, for
// ScanStreamRun; callers add WHERE and ORDER BY.
const RunSelect = `SELECT r.run_id, r.stream_id, r.started_at, r.ended_at, r.end_reason,
	(SELECT count(*) FROM segments s WHERE s.run_id = r.run_id AND s.stream_id = r.stream_id),
	l.idx, l.wall_end, l.media_end_ns
FROM stream_runs r LEFT JOIN segments l ON l.id = (
	SELECT s.id FROM segments s WHERE s.run_id = r.run_id AND s.stream_id = r.stream_id
	ORDER BY s.idx DESC LIMIT 1)`
