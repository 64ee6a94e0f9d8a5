// Package sandboxtest holds what tests of sandboxed runs share.
package sandboxtest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Sleepers are the host's live processes running `sleep marker`: a test
// starts such a child inside the sandbox and checks it does not outlive
// the run.
func Sleepers(marker string) []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || !strings.Contains(string(b), "sleep\x00"+marker) {
			continue
		}
		if st, err := os.ReadFile(filepath.Join(d, "stat")); err == nil {
			if i := strings.LastIndexByte(string(st), ')'); i >= 0 && i+2 < len(st) && (st[i+2] == 'Z' || st[i+2] == 'X') {
				continue
			}
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		pids = append(pids, pid)
	}
	return pids
}
