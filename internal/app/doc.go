// Package app wires kubewright's pieces together for `kubewright serve`. It
// is the only package that knows all of them.
package app
