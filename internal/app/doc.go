// Package app wires kubewright's pieces together for `kubewright serve`
// and for the CLI's commands (Do, NewValidation): settings from the
// environment are read here, once. It is the only package that knows all
// of them.
package app
