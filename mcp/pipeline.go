package mcp

import (
	"bytes"
	"context"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// PipelineIn asks for the pipeline, as `odu dump` takes it.
type PipelineIn struct {
	Selectors []string `json:"selectors,omitempty" jsonschema:"only these nodes and what they depend on: RECIPE, RECIPE@PLATFORM or MODULE::RECIPE"`
	Root      string   `json:"root,omitempty" jsonschema:"use this recipe as the CI root instead of the one marked [metadata(\"ci\")]"`
	Platforms []string `json:"platforms,omitempty" jsonschema:"only these platforms (Nix system names, e.g. x86_64-linux); default: those the hosts configuration has lanes for"`
	NoDeps    bool     `json:"no_deps,omitempty" jsonschema:"only the selected nodes, not what they depend on"`
}

func (s *server) pipeline(ctx context.Context, _ *sdk.CallToolRequest, in PipelineIn) (*sdk.CallToolResult, any, error) {
	var buf bytes.Buffer
	err := s.opts.Pipeline(ctx, PipelineRequest(in), &buf)
	if err != nil {
		return nil, nil, userError(err)
	}
	return text(buf.String()), nil, nil
}
