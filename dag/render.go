package dag

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the pipeline as JSON: root, justfile, platforms, and
// the nodes in topological order, one node to a line, so that the output
// reads, greps and diffs well and stays cheap for pipelines of thousands
// of nodes.
func (pl *Pipeline) WriteJSON(w io.Writer) error {
	var b bytes.Buffer
	field := func(name string, v any, last bool) {
		data, _ := json.Marshal(v) // strings and slices of strings
		fmt.Fprintf(&b, "  %q: %s", name, data)
		if !last {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("{\n")
	field("root", pl.Root, false)
	if pl.Justfile != "" {
		field("justfile", pl.Justfile, false)
	}
	field("platforms", pl.Platforms, false)
	b.WriteString("  \"nodes\": [")
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for i, n := range pl.Nodes {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n    ")
		if err := enc.Encode(n); err != nil {
			return err
		}
		b.Truncate(b.Len() - 1) // Encode ends each value with a newline
	}
	if len(pl.Nodes) > 0 {
		b.WriteString("\n  ")
	}
	b.WriteString("]\n}\n")
	_, err := w.Write(b.Bytes())
	return err
}

// WriteMermaid writes the pipeline as a Mermaid flowchart, an arrow from
// each node to the nodes that wait for it. With several platforms each
// gets a subgraph. Node ids contain `@`, `::` and perhaps quotes, so
// nodes are named n0, n1, ... and labelled with their quoted id.
func (pl *Pipeline) WriteMermaid(w io.Writer) error {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	short := make(map[string]string, len(pl.Nodes))
	node := func(indent string, n *Node) {
		short[n.ID] = fmt.Sprintf("n%d", len(short))
		fmt.Fprintf(&b, "%s%s[\"%s\"]\n", indent, short[n.ID], mermaidText(n.ID))
	}
	if len(pl.Platforms) > 1 {
		for i, p := range pl.Platforms {
			fmt.Fprintf(&b, "  subgraph p%d[\"%s\"]\n", i, mermaidText(string(p)))
			for _, n := range pl.Nodes {
				if n.Platform == p {
					node("    ", n)
				}
			}
			b.WriteString("  end\n")
		}
	} else {
		for _, n := range pl.Nodes {
			node("  ", n)
		}
	}
	for _, n := range pl.Nodes {
		for _, d := range n.Deps {
			if s, ok := short[d]; ok {
				fmt.Fprintf(&b, "  %s --> %s\n", s, short[n.ID])
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mermaidText escapes text for a quoted Mermaid label, where `"` ends the
// label and `#...;` is an entity.
func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "#", "#35;", "<", "#lt;", ">", "#gt;", "\n", " ").Replace(s)
}
