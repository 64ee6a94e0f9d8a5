package yamlsafe

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestReadFile(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "passwd"), []byte("root:x:0:0"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	write := func(rel, data string) {
		t.Helper()
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, rel string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(rel))); err != nil {
			t.Fatal(err)
		}
	}
	write("base/app.yaml", "kind: ConfigMap\n")
	write("big.yaml", strings.Repeat("x", 200))
	link("app.yaml", "base/inside-link.yaml")
	link("base", "linkdir")
	link("../"+filepath.Base(root)+"/base", "reentry")
	link(filepath.Join(outside, "passwd"), "base/passwd.yaml")
	link(outside, "outdir")
	link("/dev/zero", "zero.yaml")
	if err := syscall.Mkfifo(filepath.Join(root, "fifo.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		rel     string
		max     int64
		want    string
		wantErr error
	}{
		{rel: "base/app.yaml", want: "kind: ConfigMap\n"},
		{rel: "./base/../base/app.yaml", want: "kind: ConfigMap\n"},
		{rel: "base/inside-link.yaml", want: "kind: ConfigMap\n"},
		{rel: "linkdir/app.yaml", want: "kind: ConfigMap\n"},
		{rel: "reentry/app.yaml", wantErr: ErrPath}, // leaves and comes back: os.Root refuses it
		{rel: "big.yaml", max: 200, want: strings.Repeat("x", 200)},
		{rel: "big.yaml", max: 199, wantErr: ErrTooLarge},
		{rel: "/etc/passwd", wantErr: ErrPath},
		{rel: `C:\Windows\win.ini`, wantErr: ErrPath},
		{rel: "../../../../dev/zero", wantErr: ErrPath},
		{rel: "base/../../x.yaml", wantErr: ErrPath},
		{rel: "", wantErr: ErrPath},
		{rel: ".", wantErr: ErrPath},
		{rel: "a\x00b", wantErr: ErrPath},
		{rel: "base/passwd.yaml", wantErr: ErrPath},
		{rel: "outdir/passwd", wantErr: ErrPath},
		{rel: "zero.yaml", wantErr: ErrPath},
		{rel: "fifo.yaml", wantErr: ErrNotRegular},
		{rel: "base", wantErr: ErrNotRegular},
		{rel: "missing.yaml", wantErr: fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			got, err := ReadFile(root, tt.rel, tt.max)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ReadFile = %q, %v; want %v", got, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "root:x") {
					t.Errorf("error quotes the content: %v", err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("ReadFile = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// Files that lie about their size (procfs reports 0) are still capped by
// what a read returns.
func TestReadFileCapsWhatIsRead(t *testing.T) {
	if _, err := os.Stat("/proc/self/maps"); err != nil {
		t.Skip("no procfs")
	}
	st, err := os.Stat("/proc/self/maps")
	if err != nil || st.Size() != 0 {
		t.Skipf("/proc/self/maps reports size %d", st.Size())
	}
	_, err = ReadFile("/proc/self", "maps", 16)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadFile(/proc/self/maps, 16) = %v, want ErrTooLarge", err)
	}
}

func TestReadChecked(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "bomb.yaml"), []byte(bomb(10)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadChecked(root, "bomb.yaml", Limits{}); !errors.Is(err, ErrAliasBudget) {
		t.Fatalf("ReadChecked = %v, want ErrAliasBudget", err)
	}
}
