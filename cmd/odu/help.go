package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/alecthomas/kong"
	"github.com/mattn/go-runewidth"
)

// baseVersion is odu's release; builds from a checkout add the commit.
const baseVersion = "0.1.0-dev"

// versionOverride, set with -ldflags "-X main.versionOverride=...", is the
// version of a runner cross-compiled for another platform: the version of
// the coordinator that built it, which must match at hello.
var versionOverride string

// version is odu's version: the release, and for a build that knows its
// commit (a build from a git checkout, or `just release`) that commit
// (and "-dirty" when the tree had changes), so two binaries of different
// code never claim one version.
func version() string {
	if versionOverride != "" {
		return versionOverride
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		if v := info.Main.Version; v != "" && v != "(devel)" {
			return strings.TrimPrefix(v, "v")
		}
	}
	c := commit()
	if c == "unknown" {
		return baseVersion
	}
	rev, dirty, _ := strings.Cut(c, "-")
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty != "" {
		rev += "-" + dirty
	}
	return baseVersion + "+" + rev
}

// exampler is a command that shows examples in its help.
type exampler interface{ Examples() []string }

var rootExamples = []string{
	"odu run",
	"odu logs -f e2e",
	"odu dump",
	"odu dump ci::test@x86_64-linux",
	"odu graph --platform x86_64-linux --platform aarch64-linux",
	"odu doctor",
}

// printHelp prints help the way gh does: a description, then USAGE,
// COMMANDS, ARGUMENTS, FLAGS, INHERITED FLAGS, EXAMPLES and LEARN MORE
// sections.
func printHelp(_ kong.HelpOptions, ctx *kong.Context) error {
	node := ctx.Selected()
	if node == nil {
		node = ctx.Model.Node
	}
	w := ctx.Stdout
	var b strings.Builder

	desc := node.Detail
	if desc == "" {
		desc = node.Help
	}
	if node == ctx.Model.Node {
		desc = ctx.Model.Help
	}
	b.WriteString(wrap(strings.TrimSpace(desc), helpWidth) + "\n\n")

	b.WriteString("USAGE\n")
	b.WriteString("  " + usageLine(node) + "\n")

	var cmds [][2]string
	for _, c := range node.Children {
		if c.Type == kong.CommandNode && !c.Hidden {
			cmds = append(cmds, [2]string{c.Name + ":", c.Help})
		}
	}
	section(&b, "COMMANDS", cmds)

	var args [][2]string
	for _, p := range node.Positional {
		args = append(args, [2]string{positional(p), p.Help})
	}
	section(&b, "ARGUMENTS", args)

	section(&b, "FLAGS", flagRows(node.Flags))
	var inherited []*kong.Flag
	for p := node.Parent; p != nil; p = p.Parent {
		inherited = append(inherited, p.Flags...)
	}
	section(&b, "INHERITED FLAGS", flagRows(inherited))

	var examples []string
	if node == ctx.Model.Node {
		examples = rootExamples
	} else if e, ok := node.Target.Addr().Interface().(exampler); ok {
		examples = e.Examples()
	}
	if len(examples) > 0 {
		b.WriteString("\nEXAMPLES\n")
		for _, e := range examples {
			b.WriteString("  $ " + e + "\n")
		}
	}

	b.WriteString("\nLEARN MORE\n")
	if node == ctx.Model.Node {
		b.WriteString("  Use `odu help <command>` or `odu <command> --help` for more about a command.\n")
	}
	b.WriteString("  Read the README at the root of odu's repository for how a run works.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// helpWidth is the width help's prose is wrapped to: a terminal's 80
// columns, which the FLAGS rows may exceed since a row must stay one line.
const helpWidth = 80

// wrap reflows each paragraph of s (blank-line separated) to lines of at
// most width columns, breaking between words.
func wrap(s string, width int) string {
	paras := strings.Split(s, "\n\n")
	for i, p := range paras {
		var b strings.Builder
		col := 0
		for _, w := range strings.Fields(p) {
			n := runewidth.StringWidth(w)
			switch {
			case col == 0:
			case col+1+n > width:
				b.WriteByte('\n')
				col = 0
			default:
				b.WriteByte(' ')
				col++
			}
			b.WriteString(w)
			col += n
		}
		paras[i] = b.String()
	}
	return strings.Join(paras, "\n\n")
}

func usageLine(node *kong.Node) string {
	parts := []string{node.FullPath()}
	if node.Type == kong.ApplicationNode {
		parts = []string{node.Name, "<command>"}
	}
	for _, p := range node.Positional {
		parts = append(parts, positional(p))
	}
	parts = append(parts, "[flags]")
	return strings.Join(parts, " ")
}

func positional(p *kong.Positional) string {
	s := "<" + p.Name + ">"
	if p.IsSlice() {
		s += " ..."
	}
	if !p.Required {
		s = "[" + s + "]"
	}
	return s
}

func flagRows(flags []*kong.Flag) [][2]string {
	var rows [][2]string
	for _, f := range flags {
		if f.Hidden {
			continue
		}
		name := "    --" + f.Name
		if f.Short != 0 {
			name = fmt.Sprintf("-%c, --%s", f.Short, f.Name)
		}
		if !f.IsBool() && !f.IsCounter() {
			ph := f.PlaceHolder
			if ph == "" {
				ph = strings.ToUpper(f.Name)
			}
			name += " " + ph
		}
		help := f.Help
		if f.Name == "help" {
			help = "Show help for a command."
		}
		if f.IsSlice() {
			help += " Repeatable."
		}
		if f.HasDefault && f.Default != "" && !f.IsBool() {
			help += fmt.Sprintf(" (default %s)", f.Default)
		}
		rows = append(rows, [2]string{name, help})
	}
	return rows
}

func section(b *strings.Builder, title string, rows [][2]string) {
	if len(rows) == 0 {
		return
	}
	width := 0
	for _, r := range rows {
		width = max(width, len(r[0]))
	}
	b.WriteString("\n" + title + "\n")
	for _, r := range rows {
		fmt.Fprintf(b, "  %-*s  %s\n", width, r[0], r[1])
	}
}
