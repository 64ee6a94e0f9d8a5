package diagnose

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// eventIndex holds the namespace's events by the object they are about.
type eventIndex map[string][]*corev1.Event

func newEventIndex(evs []corev1.Event) eventIndex {
	idx := eventIndex{}
	for i := range evs {
		e := &evs[i]
		k := e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name
		idx[k] = append(idx[k], e)
	}
	for _, l := range idx {
		sort.SliceStable(l, func(i, j int) bool { return eventUnix(l[i]) < eventUnix(l[j]) })
	}
	return idx
}

// of returns the events about kind/name, oldest first, whose reason is one
// of reasons (all when none is given).
func (x eventIndex) of(kind, name string, reasons ...string) []*corev1.Event {
	var out []*corev1.Event
	for _, e := range x[kind+"/"+name] {
		if len(reasons) == 0 || slices.Contains(reasons, e.Reason) {
			out = append(out, e)
		}
	}
	return out
}

// withMessage returns the events whose message starts with prefix.
func withMessage(evs []*corev1.Event, prefix string) []*corev1.Event {
	var out []*corev1.Event
	for _, e := range evs {
		if strings.HasPrefix(e.Message, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// eventUnix is when an event last happened.
func eventUnix(e *corev1.Event) int64 {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Unix()
	case !e.EventTime.IsZero():
		return e.EventTime.Unix()
	}
	return e.FirstTimestamp.Unix()
}

// eventEvidence spells the last max events as evidence lines.
func eventEvidence(evs []*corev1.Event, max int) []string {
	if len(evs) > max {
		evs = evs[len(evs)-max:]
	}
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		count := ""
		if e.Count > 1 {
			count = fmt.Sprintf(" (x%d)", e.Count)
		}
		out = append(out, fmt.Sprintf("event %s %s on %s/%s%s: %s", e.Type, e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Name, count, strings.TrimSpace(e.Message)))
	}
	return out
}
