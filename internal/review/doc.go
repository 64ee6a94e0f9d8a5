// Package review holds the building blocks of a pull-request review that
// do not talk to GitHub: which findings a change introduced and which it
// fixed ([Compare], matched by rule, object and message, never by line, so
// moved code is not "new"), and what Flux will change in the cluster when
// the change merges ([DiffRoots], an object-level diff per Flux
// Kustomization or kustomization root, rendered as a collapsible Markdown
// section by [ObjectDiff.Markdown]).
//
// The deterministic fixers that turn a finding into a committable
// suggestion live in the sub-package fix. Nothing here applies anything to
// a cluster, runs code from a pull request or writes to GitHub; publish
// renders and posts what this package computes.
package review
