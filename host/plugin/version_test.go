package plugin

import (
	"errors"
	"testing"
)

func TestHandshakeError(t *testing.T) {
	err := handshakeError(errors.New("incompatible API version with plugin. Plugin version: 2, Client versions: [1]"))
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Plugin != 2 || pe.Host != 1 || err.Error() != "speaks protocol 2; this host speaks protocol 1" {
		t.Fatalf("%v", err)
	}
	other := errors.New("plugin exited before we could connect")
	if handshakeError(other) != other {
		t.Fatal("other errors must pass unchanged")
	}
}
