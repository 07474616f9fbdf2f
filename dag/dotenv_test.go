package dag

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDotenv: the dump's dotenv settings say which file just loads, and
// DotenvFile finds it as just does: dotenv-path from the justfile's
// directory, else the name in that directory or the nearest ancestor.
func TestDotenv(t *testing.T) {
	top := t.TempDir()
	dir := filepath.Join(top, "repo", "sub")
	if err := os.MkdirAll(filepath.Join(dir, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(top, "repo", ".env"), filepath.Join(top, "ci.env"), filepath.Join(dir, "conf", "x.env")} {
		if err := os.WriteFile(f, []byte("A=1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		settings string
		setting  string
		want     string // relative to top; "" for none
	}{
		{`{"dotenv_load": false}`, "", ""},
		{`{"dotenv_load": true}`, "dotenv-load", "repo/.env"},
		{`{"dotenv_load": false, "dotenv_filename": "ci.env"}`, "dotenv-filename", "ci.env"},
		{`{"dotenv_load": false, "dotenv_filename": "none.env"}`, "dotenv-filename", ""},
		{`{"dotenv_load": false, "dotenv_path": "conf/x.env"}`, "dotenv-path", "repo/sub/conf/x.env"},
		{`{"dotenv_load": false, "dotenv_path": "conf/missing.env"}`, "dotenv-path", "repo/.env"},
	} {
		jf, err := DecodeDump([]byte(`{"source": "justfile", "recipes": {}, "modules": {}, "settings": ` + tc.settings + `}`))
		if err != nil {
			t.Fatalf("DecodeDump(settings %s): %v", tc.settings, err)
		}
		setting := ""
		if jf.Dotenv != nil {
			setting = jf.Dotenv.Setting
		}
		if setting != tc.setting {
			t.Errorf("settings %s: Dotenv.Setting = %q, want %q", tc.settings, setting, tc.setting)
		}
		want := ""
		if tc.want != "" {
			want = filepath.Join(top, tc.want)
		}
		if got := jf.DotenvFile(dir); got != want {
			t.Errorf("settings %s: DotenvFile(%s) = %q, want %q", tc.settings, dir, got, want)
		}
	}
}
