package config

// envVar is one LSIE_* environment variable and the field it overrides.
type envVar struct {
	name string
	key  string // path.key of the field, where its position is recorded
	dst  func(c *Config) *string
}

// envVars are the variables Load reads, in the order they are applied.
// configs/example.hcl documents them next to the fields they override.
var envVars = []envVar{
	{"LSIE_API_TOKEN", "api.token", func(c *Config) *string { return &c.API.Token }},
	{"LSIE_API_LISTEN", "api.listen", func(c *Config) *string { return &c.API.Listen }},
	{"LSIE_STORE_POSTGRES", "store.postgres", func(c *Config) *string { return &c.Store.Postgres }},
}

// environment overlays the environment on the decoded file. A value set
// here is positioned at the variable ("env LSIE_API_LISTEN"), so a
// diagnostic about it names where it came from.
func (d *decoder) environment(c *Config, lookup func(string) (string, bool)) {
	for _, v := range envVars {
		val, ok := lookup(v.name)
		if !ok || val == "" {
			continue
		}
		*v.dst(c) = val
		d.at[v.key] = Pos{File: "env " + v.name}
		if v.name == "LSIE_STORE_POSTGRES" {
			// The environment picks the store: a file's sqlite gives way
			// rather than conflicting.
			delete(d.at, "store.sqlite")
		}
	}
	// Telemetry secrets, one variable per source, keep them out of files.
	for i := range c.Telemetry.Sources {
		s := &c.Telemetry.Sources[i]
		name := SecretEnv(s.Name)
		if val, ok := lookup(name); ok && val != "" {
			s.Secret = val
			d.at[path{}.attr("telemetry").block("source", s.Name, i).attr("secret").key] = Pos{File: "env " + name}
		}
	}
}
