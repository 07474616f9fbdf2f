package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/odu-ci/odu/internal/near"
	"github.com/odu-ci/odu/lanes/runstate"
)

// Flag values are decoded here rather than by kong's own mappers, whose
// errors quote Go's parsers ("expected a valid 64 bit int", "time:
// missing unit in duration"). A duration is never negative; a flag for
// which 0 means nothing (a grace period, a timeout, a number of jobs) is
// tagged type:"positive", so that 0 is refused rather than quietly
// replaced by the default.

// parseDuration reads a flag's duration, 0 or more.
func parseDuration(ctx *kong.DecodeContext) (time.Duration, string, error) {
	t, err := ctx.Scan.PopValue("duration")
	if err != nil {
		return 0, "", err
	}
	s := fmt.Sprint(t.Value)
	d, err := time.ParseDuration(s)
	switch {
	case err == nil && d < 0:
		return 0, s, fmt.Errorf("%s is negative: give a duration, e.g. 30s", s)
	case err == nil:
		return d, s, nil
	}
	if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
		return 0, s, fmt.Errorf("%q has no unit: give a duration with one, e.g. %ss (s, m or h)", s, s)
	}
	return 0, s, fmt.Errorf("%q is not a duration: give a number with a unit, e.g. 30s, 2m or 1h30m", s)
}

// durationMapper decodes a duration, 0 or more.
func durationMapper() kong.MapperFunc {
	return func(ctx *kong.DecodeContext, target reflect.Value) error {
		d, _, err := parseDuration(ctx)
		if err != nil {
			return err
		}
		target.Set(reflect.ValueOf(d))
		return nil
	}
}

// positiveMapper decodes a duration above 0, or a count of 1 or more
// (type:"positive").
func positiveMapper() kong.MapperFunc {
	return func(ctx *kong.DecodeContext, target reflect.Value) error {
		if target.Type() == reflect.TypeOf(time.Duration(0)) {
			d, s, err := parseDuration(ctx)
			if err == nil && d == 0 {
				err = fmt.Errorf("%s is too short: give a duration above 0, e.g. 30s", s)
			}
			if err != nil {
				return err
			}
			target.Set(reflect.ValueOf(d))
			return nil
		}
		t, err := ctx.Scan.PopValue("number")
		if err != nil {
			return err
		}
		s := fmt.Sprint(t.Value)
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a whole number of 1 or more: give one, e.g. 4", s)
		}
		target.SetInt(n)
		return nil
	}
}

// countMapper decodes a whole number of 0 or more (--lane-moves).
func countMapper() kong.MapperFunc {
	return func(ctx *kong.DecodeContext, target reflect.Value) error {
		t, err := ctx.Scan.PopValue("number")
		if err != nil {
			return err
		}
		s := fmt.Sprint(t.Value)
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 0 {
			return fmt.Errorf("%q is not a whole number of 0 or more: give one, e.g. 2", s)
		}
		target.SetInt(n)
		return nil
	}
}

// parseOptions are the kong options that decode odu's flag values.
func parseOptions() []kong.Option {
	return []kong.Option{
		kong.TypeMapper(reflect.TypeOf(time.Duration(0)), durationMapper()),
		kong.NamedMapper("positive", positiveMapper()),
		kong.NamedMapper("count", countMapper()),
	}
}

// helpArgs turns `odu help [COMMAND...]` into `odu [COMMAND...] --help`,
// as in gh and git; `odu help help` is the root's help.
func helpArgs(args []string) []string {
	if len(args) == 0 {
		return []string{"--help"}
	}
	if args[0] != "help" {
		return args
	}
	rest := args[1:]
	for len(rest) > 0 && rest[0] == "help" {
		rest = rest[1:]
	}
	return append(append([]string{}, rest...), "--help")
}

// rootValueFlags are the root's flags that take a value, which the search
// for the command word below must skip.
var rootValueFlags = map[string]bool{"-C": true, "--chdir": true}

// explainParse rewrites the kong errors that mislead: a mistyped command,
// which kong calls an "unexpected argument", and an unknown short flag,
// for which kong suggests unrelated one-letter flags (`-x`: "did you
// mean -h?"). It returns "" for the errors kong says well itself.
func explainParse(model *kong.Application, kctx *kong.Context, args []string) (msg, hint string) {
	if kctx == nil || kctx.Selected() == nil {
	words:
		for i := 0; i < len(args); i++ {
			a := args[i]
			switch {
			case a == "--":
				return "", ""
			case rootValueFlags[a]:
				i++
				continue
			case strings.HasPrefix(a, "-"):
				continue
			}
			var names []string
			for _, c := range model.Children {
				if c.Type != kong.CommandNode {
					continue
				}
				if c.Name == a || contains(c.Aliases, a) {
					break words // a known command: the error is about something else
				}
				if !c.Hidden {
					names = append(names, c.Name)
				}
			}
			msg = fmt.Sprintf("unknown command %q", a)
			if near := near.Closest(a, names, 3); len(near) > 0 {
				msg += ", did you mean " + orList(near) + "?"
			}
			return msg, "Run `odu --help` for the commands."
		}
	}
	node := model.Node
	if kctx != nil && kctx.Selected() != nil {
		node = kctx.Selected()
	}
	shorts := map[rune]bool{}
	byName := map[string]*kong.Flag{}
	for n := node; n != nil; n = n.Parent {
		for _, f := range n.Flags {
			byName["--"+f.Name] = f
			if f.Short != 0 {
				shorts[f.Short] = true
				byName["-"+string(f.Short)] = f
			}
		}
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if len(a) < 2 || a[0] != '-' || a[1] == '-' {
			continue
		}
		if a[1] >= '0' && a[1] <= '9' {
			continue // a negative value (-1, -5s), which kong says more about
		}
		for _, r := range a[1:] {
			if !shorts[r] {
				return fmt.Sprintf("unknown flag -%c", r), "Run `" + helpOf(model, node) + "` for its flags."
			}
		}
	}
	// A flag that takes a value, last on the line: kong says it expected
	// a value but got "EOL".
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		if strings.HasPrefix(a, "--") && a != "--" && byName[name] == nil {
			return "", "" // an unknown flag, which kong names with a did-you-mean
		}
	}
	if len(args) > 0 {
		if f := byName[args[len(args)-1]]; f != nil && !f.IsBool() && !f.IsCounter() {
			return fmt.Sprintf("flag --%s needs a value: --%s %s", f.Name, f.Name, placeholder(f)),
				"Run `" + helpOf(model, node) + "` for its flags."
		}
	}
	return "", ""
}

// explainMissing rewrites kong's error for a missing argument (`expected
// "<node>"`) to say what the command needs and where to find one; ""
// for any other error.
func explainMissing(kctx *kong.Context, err error) (msg, hint string) {
	if kctx == nil || kctx.Selected() == nil {
		return "", ""
	}
	for _, p := range kctx.Selected().Positional {
		if err.Error() != fmt.Sprintf("expected %q", "<"+p.Name+">") {
			continue
		}
		what := strings.TrimSuffix(p.Help, ".")
		if _, after, ok := strings.Cut(what, ": "); ok && strings.HasPrefix(what, "The ") {
			what = after // "The node: RECIPE, …" says "node" twice
		}
		msg = fmt.Sprintf("which %s? `odu%s` needs one (%s)", p.Name, commandOf(kctx), what)
		hint = "Run `odu" + commandOf(kctx) + " --help` for usage."
		if p.Name == "node" {
			hint = "`odu status` lists the run's nodes, e.g. `odu" + commandOf(kctx) + " build@x86_64-linux`."
		}
		return msg, hint
	}
	return "", ""
}

// helpOf is the command line that shows node's help.
func helpOf(model *kong.Application, node *kong.Node) string {
	if node == model.Node {
		return "odu --help"
	}
	return node.FullPath() + " --help"
}

// placeholder is what a flag's value is called in help: DIR, DURATION.
func placeholder(f *kong.Flag) string {
	if f.PlaceHolder != "" {
		return f.PlaceHolder
	}
	return strings.ToUpper(f.Name)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// checkStateDir refuses a repository whose .ci is not a directory: odu
// keeps its runs there (logs, records, the live run's socket), and
// without this every command would fail on a bare "not a directory".
func checkStateDir(root string) error {
	p := filepath.Join(root, runstate.StateDir)
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
		return &usageError{msg: p + " is a file, but odu keeps its runs in a directory of that name",
			hint: "Move the file elsewhere (git mv " + runstate.StateDir + " OTHER), then run odu again."}
	}
	return nil
}

// orList quotes names and joins them with commas and "or".
func orList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
