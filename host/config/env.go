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
	}
}
