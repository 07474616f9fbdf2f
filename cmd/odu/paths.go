package main

import (
	"path/filepath"
	"strings"
)

// here turns a path relative to the repository root (as the surface and
// the records give them) into one that works where the user is: relative
// to odu's working directory when that is in the repository (as git
// prints paths), else absolute; so that `less <path>` works as printed.
func here(env *Env, root, rel string) string {
	abs := filepath.Join(root, rel)
	if env == nil || env.Dir == "" || root == "" {
		return abs
	}
	if in, err := filepath.Rel(root, env.Dir); err != nil || in == ".." || strings.HasPrefix(in, ".."+string(filepath.Separator)) {
		return abs
	}
	r, err := filepath.Rel(env.Dir, abs)
	if err != nil {
		return abs
	}
	return r
}
