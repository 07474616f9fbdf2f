package dag

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/odu-ci/odu/platform"
)

// A Justfile is what odu needs to know of a justfile and its modules, read
// from `just --dump --dump-format json`.
type Justfile struct {
	// Source is the path of the root justfile, as just reported it.
	Source string
	// Recipes holds every recipe of the justfile and its modules, by
	// namepath ("build", "ci::test").
	Recipes map[string]*Recipe
	// Dotenv says which file of variables just loads for the recipes,
	// nil when it loads none (see [Justfile.DotenvFile]).
	Dotenv *Dotenv
}

// A Recipe is one recipe of a justfile or of one of its modules.
type Recipe struct {
	Namepath string // "ci::test"
	Module   string // "ci", "" for the root justfile
	Source   string // the file that defines it
	Line     int    // 1-based line of its header in Source; 0 if not found

	HasBody  bool
	Shebang  bool
	Private  bool
	Params   []Param
	Priors   []Dep // dependencies that run before it
	After    []Dep // dependencies after `&&`, which run after it
	Metadata []string
	OS       []string // operating-system attributes: linux, macos, unix, ...
	Confirm  bool
}

// A Param is a recipe parameter.
type Param struct {
	Name     string
	Required bool // no default, and not a `*` variadic or a flag
}

// A Dep is a dependency as written in a recipe header.
type Dep struct {
	Recipe string   // namepath, resolved relative to the module it is written in
	Args   []string // literal arguments
	// Expr is set when an argument is an expression (a variable, a
	// concatenation, a function call): its value depends on where just
	// evaluates it, so odu refuses it.
	Expr bool
	// Star is set for a dependency mapped over a list (`*dep`).
	Star bool
}

// Where returns "file:line" for the recipe, or just the file when the
// line is unknown.
func (r *Recipe) Where() string {
	if r.Line > 0 {
		return fmt.Sprintf("%s:%d", r.Source, r.Line)
	}
	return r.Source
}

// ShardTag is the metadata that shards a recipe: [metadata("odu:shard=4")].
const ShardTag = "odu:shard="

// Shards returns the most shards the recipe runs as, from
// [metadata("odu:shard=N")]; 0 when it carries none.
func (r *Recipe) Shards() (int, error) {
	n := 0
	for _, m := range r.Metadata {
		v, ok := strings.CutPrefix(m, ShardTag)
		if !ok {
			continue
		}
		k, err := strconv.Atoi(v)
		if err != nil || k < 1 || k > MaxShards {
			return 0, &ShardError{Recipe: r.Namepath, Where: r.Where(), Value: v}
		}
		n = k
	}
	return n, nil
}

// MaxShards bounds N in odu:shard=N: each shard holds a slot of a build
// host, and a pool has far fewer.
const MaxShards = 64

// IsCIRoot reports whether the recipe carries [metadata("ci")].
func (r *Recipe) IsCIRoot() bool {
	for _, m := range r.Metadata {
		if m == "ci" {
			return true
		}
	}
	return false
}

// The wire shapes of `just --dump --dump-format json` (just 1.42 and
// newer). Only the fields odu reads are declared; anything else is
// ignored, so newer versions of just that add fields still decode.
type dumpModule struct {
	Source     string                 `json:"source"`
	Settings   dumpSettings           `json:"settings"`
	ModulePath string                 `json:"module_path"`
	Modules    map[string]*dumpModule `json:"modules"`
	Recipes    map[string]*dumpRecipe `json:"recipes"`
}

type dumpRecipe struct {
	Name         string           `json:"name"`
	Namepath     string           `json:"namepath"`
	Attributes   []jsontext.Value `json:"attributes"`
	Body         nonEmpty         `json:"body"`
	Dependencies []dumpDep        `json:"dependencies"`
	Parameters   []dumpParam      `json:"parameters"`
	Priors       int              `json:"priors"`
	Private      bool             `json:"private"`
	Shebang      bool             `json:"shebang"`
}

type dumpDep struct {
	Recipe    string           `json:"recipe"`
	Arguments []jsontext.Value `json:"arguments"`
	Star      notNull          `json:"star"`
}

type dumpParam struct {
	Name    string  `json:"name"`
	Default notNull `json:"default"`
	Kind    string  `json:"kind"`
	Flag    bool    `json:"flag"`
}

// maxModuleDepth bounds module nesting; a real justfile is a few levels
// deep, and a bound keeps a hostile dump from exhausting the stack.
const maxModuleDepth = 64

// DecodeDump parses the output of `just --dump --dump-format json`. It
// never panics: malformed input is a *DumpError.
func DecodeDump(data []byte) (*Justfile, error) {
	var root dumpModule
	// encoding/json/v2 (the go-json-experiment module: the standard
	// library's needs GOEXPERIMENT=jsonv2) decodes the dump in about half
	// the time and a third of the allocations of encoding/json, and the
	// dump is most of what `odu dump` spends on a big justfile.
	if err := jsonv2.Unmarshal(data, &root); err != nil {
		return nil, &DumpError{Err: err}
	}
	jf := &Justfile{Source: root.Source, Recipes: map[string]*Recipe{}, Dotenv: root.Settings.dotenv()}
	if err := jf.addModule(&root, "", 0); err != nil {
		return nil, err
	}
	return jf, nil
}

func (jf *Justfile) addModule(m *dumpModule, path string, depth int) error {
	if depth > maxModuleDepth {
		return &DumpError{Err: fmt.Errorf("modules nested deeper than %d", maxModuleDepth)}
	}
	// Map iteration order is random; sort so that errors are deterministic.
	for _, name := range sortedKeys(m.Recipes) {
		dr := m.Recipes[name]
		if dr == nil {
			return &DumpError{Err: fmt.Errorf("recipe %q is null", name)}
		}
		r, err := decodeRecipe(dr, name, path, m.Source)
		if err != nil {
			return err
		}
		if _, dup := jf.Recipes[r.Namepath]; dup {
			return &DumpError{Err: fmt.Errorf("recipe %q appears twice", r.Namepath)}
		}
		jf.Recipes[r.Namepath] = r
	}
	for _, name := range sortedKeys(m.Modules) {
		sub := m.Modules[name]
		if sub == nil {
			return &DumpError{Err: fmt.Errorf("module %q is null", name)}
		}
		subPath := joinPath(path, name)
		if sub.ModulePath != "" && sub.ModulePath != subPath {
			return &DumpError{Err: fmt.Errorf("module %q has module_path %q", subPath, sub.ModulePath)}
		}
		if err := jf.addModule(sub, subPath, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func decodeRecipe(dr *dumpRecipe, key, module, source string) (*Recipe, error) {
	name := dr.Name
	if name == "" {
		name = key
	}
	if !validRecipeName(name) {
		return nil, &DumpError{Err: fmt.Errorf("recipe name %q is not a just identifier", name)}
	}
	r := &Recipe{
		Namepath: joinPath(module, name),
		Module:   module,
		Source:   source,
		HasBody:  bool(dr.Body),
		Shebang:  dr.Shebang,
		Private:  dr.Private,
	}
	if dr.Namepath != "" && dr.Namepath != r.Namepath {
		return nil, &DumpError{Err: fmt.Errorf("recipe %q has namepath %q", r.Namepath, dr.Namepath)}
	}
	for _, raw := range dr.Attributes {
		if err := r.addAttribute(raw); err != nil {
			return nil, err
		}
	}
	for _, p := range dr.Parameters {
		r.Params = append(r.Params, Param{
			Name:     p.Name,
			Required: !bool(p.Default) && p.Kind != "star" && !p.Flag,
		})
	}
	if dr.Priors < 0 || dr.Priors > len(dr.Dependencies) {
		return nil, &DumpError{Err: fmt.Errorf("recipe %q has %d priors but %d dependencies", r.Namepath, dr.Priors, len(dr.Dependencies))}
	}
	for i, dd := range dr.Dependencies {
		d, err := decodeDep(dd, module)
		if err != nil {
			return nil, fmt.Errorf("recipe %q: %w", r.Namepath, err)
		}
		if i < dr.Priors {
			r.Priors = append(r.Priors, d)
		} else {
			r.After = append(r.After, d)
		}
	}
	return r, nil
}

// addAttribute records the attributes odu acts on. An attribute is either
// a bare string ("private", "linux") or an object with one key
// ({"metadata": ["ci"]}, {"confirm": null}).
func (r *Recipe) addAttribute(raw jsontext.Value) error {
	var bare string
	if json.Unmarshal(raw, &bare) == nil {
		switch {
		case bare == "confirm":
			r.Confirm = true
		case platform.IsOSAttribute(bare):
			r.OS = append(r.OS, bare)
		}
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return &DumpError{Err: fmt.Errorf("recipe %q: attribute %s is neither a name nor an object", r.Namepath, truncate(string(raw), 40))}
	}
	for k, v := range obj {
		switch k {
		case "confirm":
			r.Confirm = true
		case "metadata":
			var vals []string
			if err := json.Unmarshal(v, &vals); err != nil {
				return &DumpError{Err: fmt.Errorf("recipe %q: metadata is not a list of strings", r.Namepath)}
			}
			r.Metadata = append(r.Metadata, vals...)
		}
	}
	return nil
}

func decodeDep(dd dumpDep, module string) (Dep, error) {
	if dd.Recipe == "" {
		return Dep{}, &DumpError{Err: fmt.Errorf("dependency without a recipe name")}
	}
	d := Dep{Recipe: joinPath(module, dd.Recipe), Star: bool(dd.Star)}
	for _, a := range dd.Arguments {
		var lit string
		if json.Unmarshal(a, &lit) == nil {
			d.Args = append(d.Args, lit)
			continue
		}
		d.Expr = true
	}
	return d, nil
}

func joinPath(module, name string) string {
	if module == "" {
		return name
	}
	return module + "::" + name
}

// validRecipeName reports whether s is a just identifier: a letter or
// underscore, then letters, digits, underscores and dashes.
func validRecipeName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c == '-' || c >= '0' && c <= '9'):
		default:
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// locateRecipes fills in the Line of every recipe by reading the source
// files just named. just's dump carries no positions; a recipe header is
// an unindented line that starts with the recipe's name (after an optional
// `@`) followed by a parameter, a colon or a space, and is not an
// assignment (`name :=`). Each file is read once; files that cannot be
// read leave Line at 0.
func (jf *Justfile) locateRecipes() {
	bySource := map[string]map[string]*Recipe{}
	for _, r := range jf.Recipes {
		if bySource[r.Source] == nil {
			bySource[r.Source] = map[string]*Recipe{}
		}
		bySource[r.Source][r.Namepath[strings.LastIndex(r.Namepath, ":")+1:]] = r
	}
	for src, byName := range bySource {
		data, err := os.ReadFile(src)
		if err != nil {
			continue
		}
		for i, line := range strings.Split(string(data), "\n") {
			name := leadingName(strings.TrimPrefix(line, "@"))
			if r := byName[name]; r != nil && r.Line == 0 && isRecipeHeader(line, name) {
				r.Line = i + 1
			}
		}
	}
}

// leadingName returns the identifier a line starts with, or "".
func leadingName(line string) string {
	end := 0
	for end < len(line) {
		c := line[end]
		if c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			end++
			continue
		}
		break
	}
	return line[:end]
}

func isRecipeHeader(line, name string) bool {
	line = strings.TrimPrefix(line, "@")
	rest, ok := strings.CutPrefix(line, name)
	if !ok || rest == "" {
		return false
	}
	if c := rest[0]; c != ' ' && c != '\t' && c != ':' {
		return false // a longer name: `build-all` is not `build`
	}
	rest = strings.TrimLeft(rest, " \t")
	if strings.HasPrefix(rest, ":=") {
		return false // an assignment
	}
	return strings.Contains(rest, ":")
}

// nonEmpty decodes whether a JSON array has elements, without keeping
// them: a recipe's body can be long, and odu needs only to know that it
// has one.
type nonEmpty bool

func (n *nonEmpty) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	v, err := dec.ReadValue() // valid until the next read: not kept
	if err != nil {
		return err
	}
	v = bytes.TrimSpace(v)
	*n = len(v) > 2 && v[0] == '[' && len(bytes.TrimSpace(v[1:len(v)-1])) > 0
	return nil
}

// notNull decodes whether a JSON value is present and not null, without
// keeping it.
type notNull bool

func (n *notNull) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	*n = string(bytes.TrimSpace(v)) != "null"
	return nil
}
