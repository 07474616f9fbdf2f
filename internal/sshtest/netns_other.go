//go:build !linux

package sshtest

import (
	"errors"
	"net"
)

type netns struct{ addr string }

func newNetns() (*netns, error) {
	return nil, errors.New("sshtest makes network namespaces on Linux only")
}
func (*netns) listen() (net.Listener, error) { return nil, errors.New("no network namespaces") }
func (*netns) setLink(bool) error            { return errors.New("no network namespaces") }
func (*netns) remove() error                 { return nil }
func sweepNetns()                            {}
