// Package analytics derives per-segment analytics from plugin aggregates and
// telemetry: gated rewards, heart-rate variability (RMSSD), co-modulation of
// two series, and experiment posteriors with Thompson sampling. Everything
// here is a pure function of its arguments (History aside, which is a plain
// in-memory buffer); formulas and thresholds are in docs/ANALYTICS.md.
package analytics
