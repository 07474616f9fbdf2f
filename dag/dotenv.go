package dag

import (
	"os"
	"path/filepath"
)

// Dotenv is how a justfile loads a file of environment variables for its
// recipes: `set dotenv-load`, `set dotenv-filename`, `set dotenv-path`.
type Dotenv struct {
	Setting  string // the setting that loads it, for messages: "dotenv-load"
	Filename string // the name looked for, ".env" unless dotenv-filename
	Path     string // dotenv-path, relative to the justfile's directory; "" when unset
}

// dumpSettings are the settings of the dump that odu reads.
type dumpSettings struct {
	DotenvLoad     bool    `json:"dotenv_load"`
	DotenvFilename *string `json:"dotenv_filename"`
	DotenvPath     *string `json:"dotenv_path"`
}

// dotenv says what the settings load, nil for nothing. Setting a file's
// name or path loads it without dotenv-load, as in just.
func (s dumpSettings) dotenv() *Dotenv {
	d := &Dotenv{Filename: ".env"}
	switch {
	case s.DotenvPath != nil:
		d.Setting, d.Path = "dotenv-path", *s.DotenvPath
	case s.DotenvFilename != nil:
		d.Setting = "dotenv-filename"
	case s.DotenvLoad:
		d.Setting = "dotenv-load"
	default:
		return nil
	}
	if s.DotenvFilename != nil {
		d.Filename = *s.DotenvFilename
	}
	return d
}

// DotenvFile returns the file just loads variables from when it reads the
// justfile in dir, or "" when it loads none: dotenv-path when that file
// exists, else the first file of the dotenv name in dir and its
// ancestors, as just looks.
func (jf *Justfile) DotenvFile(dir string) string {
	d := jf.Dotenv
	if d == nil {
		return ""
	}
	isFile := func(p string) bool {
		fi, err := os.Stat(p)
		return err == nil && !fi.IsDir()
	}
	if d.Path != "" {
		p := d.Path
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if isFile(p) {
			return p
		}
	}
	for dir := filepath.Clean(dir); ; dir = filepath.Dir(dir) {
		if p := filepath.Join(dir, d.Filename); isFile(p) {
			return p
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}
