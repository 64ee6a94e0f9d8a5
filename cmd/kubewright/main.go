// Command kubewright turns repositories into validated GitOps pull requests.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes: 0 success, 1 findings or failed work, 2 usage or runtime
// error (a stage that was asked for and cannot run included), 3 nothing to
// do (no services to containerize, nothing to validate, no change).
const (
	exitOK      = 0
	exitFail    = 1
	exitUsage   = 2
	exitNothing = 3
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func nothingErr(format string, args ...any) error {
	return &exitError{code: exitNothing, err: fmt.Errorf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "kubewright:", userMessage(err))
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitUsage
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "kubewright",
		Short:         "Turn repositories into reviewed, validated GitOps pull requests",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().BoolP("quiet", "q", false, "no progress lines on stderr")
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(newAnalyzeCmd(), newContainerizeCmd(), newDoCmd(), newValidateCmd(), newReviewCmd(), newDiagnoseCmd(), newOpCmd(), newActionCmd(), newServeCmd(), newAppCmd(), newVersionCmd())
	return root
}

// pathArg returns the repository path argument (default ".") and checks it
// is a directory.
func pathArg(args []string) (string, error) {
	p := "."
	if len(args) > 0 {
		p = args[0]
	}
	st, err := os.Stat(p)
	if err != nil {
		return "", usageErr("repository path %s: %v", p, errors.Unwrap(err))
	}
	if !st.IsDir() {
		return "", usageErr("repository path %s is not a directory", p)
	}
	return p, nil
}
