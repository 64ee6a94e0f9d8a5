package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kubewright/kubewright/internal/app"
)

func newActionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "action",
		Short: "Run as a GitHub Actions step (see action.yml): review, /ai commands, validation with SARIF",
		Long: `Run the job the GitHub App would run for the workflow's event, with the
workflow's token: pull_request reviews the pull request, issue_comment runs
its /ai command, push and workflow_dispatch validate the checkout and write
SARIF (input sarif-file) for code scanning. With a read-only token (a fork's
pull request, or input read-only: true) findings become annotations and the
texts go to the job summary. Every run appends errors, warnings, sarif-file
and pull-request-url to GITHUB_OUTPUT.

It reads the runner's environment: GITHUB_EVENT_NAME, GITHUB_EVENT_PATH,
GITHUB_TOKEN (or input token), GITHUB_REPOSITORY, GITHUB_SHA, GITHUB_API_URL,
GITHUB_SERVER_URL, GITHUB_WORKSPACE, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and
the action's inputs as INPUT_*.

Exit status: 0 done, 1 findings at or above input fail-on, 2 a setting is
missing or malformed.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			res, err := app.Action(c.Context(), app.ActionSettings{Getenv: os.Getenv, Stdout: c.OutOrStdout(), Version: version})
			if app.IsSettingError(err) {
				return usageErr("%v", err)
			}
			if err != nil {
				return err
			}
			if res.Nothing != "" {
				fmt.Fprintf(c.ErrOrStderr(), "kubewright: nothing to do: %s\n", res.Nothing)
			}
			if res.Failed() {
				return &exitError{code: exitFail, err: fmt.Errorf("%d errors, %d warnings (fail-on %s)", res.Errors, res.Warnings, res.FailOn)}
			}
			return nil
		},
	}
}
