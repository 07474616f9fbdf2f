package platform

import (
	"errors"
	"testing"
)

func TestSuggest(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"X86_64-linux", "x86_64-linux"},
		{"x86_64-macos", "x86_64-darwin"},
		{"arm64-mac", "aarch64-darwin"},
		{"amd64-linux", "x86_64-linux"},
		{"linux/arm64", "aarch64-linux"},
		{"aarch64-linx", "aarch64-linux"},
		{"x86_64-windows", ""},
		{"sparc-solaris", ""},
	} {
		if got := Suggest(c.in); string(got) != c.want {
			t.Errorf("Suggest(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestUnknownHint(t *testing.T) {
	_, err := Parse("x86_64-macos")
	var unknown *UnknownError
	if !errors.As(err, &unknown) {
		t.Fatalf("Parse(x86_64-macos) = %v, want an *UnknownError", err)
	}
	h := unknown.Hint()
	if want := "Did you mean x86_64-darwin? Platforms are Nix system names: "; len(h) < len(want) || h[:len(want)] != want {
		t.Errorf("Parse(x86_64-macos) hint = %q, want it to start %q", h, want)
	}
}
