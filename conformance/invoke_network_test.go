package conformance

import (
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2/model"
)

// A function reports the network interfaces it sees and whether it can
// reach the server that runs it.
const netProbe = `import socket, os

def handler(event, context):
    with open("/proc/net/dev") as f:
        ifaces = sorted(l.split(":")[0].strip() for l in f.readlines()[2:])
    reach = True
    try:
        socket.create_connection(("127.0.0.1", int(event["port"])), timeout=1).close()
    except OSError:
        reach = False
    return {"ifaces": ifaces, "reach": reach}
`

// network_controller.disable_public_network gives the function its own
// network namespace with only loopback; without it the function shares
// the host's network.
func TestInvokeNetworkControl(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	c := s.Client(t)
	port := s.Addr[len("127.0.0.1:"):]
	event := `{"port":` + port + `}`

	open := deploy(t, c, fnSpec{Name: "net-open", Runtime: "Python3.9", Inline: netProbe, InlineName: "index.py"})
	m := s.invokeOK(t, open, event, nil).ResultJSON(t)
	if m["reach"] != true {
		t.Errorf("a function with public network: result %v, want it to reach 127.0.0.1:%s", m, port)
	}

	closed := deploy(t, c, fnSpec{Name: "net-closed", Runtime: "Python3.9", Inline: netProbe, InlineName: "index.py"})
	off := true
	reconfigure(t, c, closed, func(b *model.UpdateFunctionConfigRequestBody) {
		b.NetworkController = &model.NetworkControlConfig{DisablePublicNetwork: &off}
	})
	m = s.invokeOK(t, closed, event, nil).ResultJSON(t)
	ifaces, _ := m["ifaces"].([]any)
	if len(ifaces) != 1 || ifaces[0] != "lo" || m["reach"] != false {
		t.Errorf("a function without public network: result %v, want only lo and no way to the server", m)
	}
}
