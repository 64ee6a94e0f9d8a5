package main

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kubewright/kubewright/internal/textdist"
)

// flagError turns pflag's parse errors into messages for people: an
// unknown flag gets the nearest known one, a malformed value says what
// the flag takes instead of naming a Go parser.
func flagError(c *cobra.Command, err error) error {
	help := fmt.Sprintf("see `%s --help`", c.CommandPath())
	var notExist *pflag.NotExistError
	var invalid *pflag.InvalidValueError
	switch {
	case errors.As(err, &notExist):
		name := notExist.GetSpecifiedName()
		if name == "" {
			return usageErr("unknown shorthand flag -%s (%s)", notExist.GetSpecifiedShortnames(), help)
		}
		if s := suggestFlag(c, name); s != "" {
			return usageErr("unknown flag --%s: did you mean --%s? (%s)", name, s, help)
		}
		return usageErr("unknown flag --%s (%s)", name, help)
	case errors.As(err, &invalid):
		f := invalid.GetFlag()
		return usageErr("--%s %q: %s (%s)", f.Name, invalid.GetValue(), expects(f.Value.Type()), help)
	}
	return usageErr("%v (%s)", err, help)
}

// suggestFlag is the known flag of c nearest to name, if near enough.
func suggestFlag(c *cobra.Command, name string) string {
	var names []string
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			names = append(names, f.Name)
		}
	})
	c.InheritedFlags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			names = append(names, f.Name)
		}
	})
	sort.Strings(names)
	best, bestD := "", 0
	for _, n := range names {
		d := textdist.Distance(name, n)
		if best == "" || d < bestD {
			best, bestD = n, d
		}
	}
	// One edit per three letters, at most three: --regsitry, --fromat.
	if best == "" || bestD > min(3, max(1, len(name)/3)) {
		return ""
	}
	return best
}

// expects says what a flag of pflag type typ takes.
func expects(typ string) string {
	switch {
	case strings.HasPrefix(typ, "int"), strings.HasPrefix(typ, "uint"):
		return "expected a whole number"
	case typ == "bool":
		return "expected true or false"
	case typ == "duration":
		return "expected a duration such as 30s or 5m"
	case strings.HasPrefix(typ, "float"):
		return "expected a number"
	}
	return "not a valid value"
}

// internalPrefix matches the package names that inner layers put before
// their errors ("author: ", "llm: "): they mean nothing to a user.
var internalPrefix = regexp.MustCompile(`(?m)(^|: )(?:author|agent|rules|llm|job|workspace|analyze): `)

// goParser matches errors of Go's parsers that escaped a layer: they name
// Go functions and types, not the user's input.
var (
	goParseNum = regexp.MustCompile(`strconv\.Parse\w+: parsing ("[^"]*"): (?:invalid syntax|value out of range)`)
	goJSONType = regexp.MustCompile(`json: cannot unmarshal (\w+) into Go (?:struct field \S+|value) of type \S+`)
)

// userMessage is the error as the command line prints it: without
// internal package prefixes or Go type names.
func userMessage(err error) string {
	msg := internalPrefix.ReplaceAllString(err.Error(), "$1")
	msg = goParseNum.ReplaceAllString(msg, "$1 is not a valid number")
	msg = goJSONType.ReplaceAllString(msg, "a $1 is not allowed here")
	return msg
}
