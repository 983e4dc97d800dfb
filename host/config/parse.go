package config

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Parse decodes src, a configuration in HCL native syntax, over Default and
// validates the result; filename is used in diagnostics, and its directory
// anchors relative file sources ("file:media/clip.mp4"). When the input is
// bad it returns a nil Config and a Diagnostics error listing every problem.
func Parse(src []byte, filename string) (*Config, error) {
	d := &decoder{file: filename, baseDir: filepath.Dir(filename), at: map[string]Pos{}}
	f, hdiags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if hdiags.HasErrors() {
		// The body of a file with syntax errors is partial; decoding it
		// would only add noise to the syntax errors.
		d.addHCL(hdiags, "", d.fileStart())
		d.diags.sortByPos()
		return nil, d.diags
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return nil, Diagnostics{{Pos: d.fileStart(), Message: "not an HCL native-syntax file"}}
	}
	c := Default()
	c.file = filename
	d.root(body, c)
	d.validate(c)
	if len(d.diags) > 0 {
		d.diags.sortByPos()
		return nil, d.diags
	}
	return c, nil
}

// Load reads the configuration file at path and parses it.
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return Parse(src, path)
}

// ValidateRunnable reports what, beyond Parse's checks, prevents running the
// configuration: it needs at least one stream. A file without streams still
// passes Parse, so `config check` is useful on a partial file.
func (c *Config) ValidateRunnable() error {
	var ds Diagnostics
	if len(c.Streams) == 0 {
		ds = append(ds, Diagnostic{
			Pos:     Pos{File: c.file},
			Message: `no stream blocks: at least one is needed to run (e.g. stream "cam1" { source = "test://ball" })`,
		})
	}
	return ds.err()
}
