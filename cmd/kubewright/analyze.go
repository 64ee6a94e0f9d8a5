package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kubewright/kubewright/internal/analyze"
)

func newAnalyzeCmd() *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:   "analyze [PATH]",
		Short: "Detect the deployable services of a repository",
		Long: `Walk a repository (monorepos included) and print one entry per deployable
service: language and version, build tool, entrypoint, port, health endpoint,
environment variables, backing services and calls to other services.

Exit status: 0 services found, 1 none could be analyzed, 2 usage, 3 no
services at all.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			root, err := pathArg(args)
			if err != nil {
				return err
			}
			if format != "text" && format != "json" {
				return usageErr("--format %q: use text or json", format)
			}
			m, err := analyze.New().Analyze(c.Context(), root)
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(m); err != nil {
					return err
				}
			} else {
				printServices(out, m.Services)
				if len(m.Services) > 0 {
					printErrors(out, m.Errors)
				}
			}
			if len(m.Services) == 0 {
				var discard strings.Builder
				if format != "json" {
					return noServices(out, root, m)
				}
				return noServices(&discard, root, m)
			}
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return c
}

func printServices(out io.Writer, svcs []analyze.Service) {
	fmt.Fprintf(out, "Services (%d)\n", len(svcs))
	if len(svcs) == 0 {
		return
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tPATH\tLANGUAGE\tFRAMEWORK\tBUILD\tPORT\tHEALTH\tBACKING\tCALLS")
	for _, s := range svcs {
		lang := s.Language
		if s.LanguageVersion != "" {
			lang += " " + s.LanguageVersion
		}
		var backing []string
		for _, b := range s.Backing {
			backing = append(backing, b.Kind)
		}
		port := "-"
		if s.Port > 0 {
			port = fmt.Sprint(s.Port)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Path, lang, dash(s.Framework), s.BuildTool, port,
			dash(s.HealthPath), dash(strings.Join(backing, ",")), dash(strings.Join(s.Calls, ",")))
	}
	tw.Flush()
}

func printErrors(out io.Writer, errs []analyze.ServiceError) {
	if len(errs) == 0 {
		return
	}
	fmt.Fprintf(out, "\nNot analyzed (%d)\n", len(errs))
	for _, e := range errs {
		fmt.Fprintf(out, "  %s\n", e.Error())
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
