package job

import (
	"testing"

	"github.com/kubewright/kubewright/internal/command"
)

// Every command of the command table that is not a reply runs in a file
// of this package, and nothing here runs a command the table does not
// know: the two tables cannot drift apart.
func TestCommandsMatchTheTable(t *testing.T) {
	r := New(nil, nil)
	known := map[command.Name]bool{}
	for _, spec := range command.Commands() {
		known[spec.Name] = true
		if spec.Name == command.Help {
			continue
		}
		if _, ok := r.commands()[spec.Name]; !ok {
			t.Errorf("/ai %s is in the command table but no job file runs it", spec.Name)
		}
	}
	for name := range r.commands() {
		if !known[name] {
			t.Errorf("job runs %q, which the command table does not know", name)
		}
	}
	if r.runsJob(&command.Command{Name: command.Cancel}, "", false) || !r.runsJob(&command.Command{Name: command.Plan}, "", false) {
		t.Error("runsJob: a cancel takes no queue position, a plan does")
	}
	if r.runsJob(nil, "add a cache", false) {
		t.Error("runsJob: free text without a model configured is a reply")
	}
}
