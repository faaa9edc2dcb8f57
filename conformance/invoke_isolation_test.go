package conformance

import (
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2/model"
)

// Another project's credential cannot invoke a function, neither by
// naming the project in the path nor by a URN that names it.
func TestInvokeIsolation(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	c := s.Client(t)
	urn := deploy(t, c, fnSpec{Name: "private", Runtime: "Python3.9", Inline: "def handler(event, context):\n    return 'secret'\n", InlineName: "index.py"})

	other := s.AddCredential(t, s.AddProject(t, "other-region"))
	oc := s.ClientWith(t, other, clientOpts{})
	// Its own project in the path, the first project's URN.
	_, err := oc.InvokeFunction(&model.InvokeFunctionRequest{FunctionUrn: urn, Body: map[string]interface{}{}})
	wantSDKError(t, "invoke another project's URN", err, 403, "FSS.0403")
	// Its own project, the function's short name: not found there.
	_, err = oc.InvokeFunction(&model.InvokeFunctionRequest{FunctionUrn: "private", Body: map[string]interface{}{}})
	wantSDKError(t, "invoke a name that exists only in another project", err, 404, "FSS.1051")
	// The first project's path, signed by the second project's key.
	r := s.Signed(t, other, "POST", "/v2/"+s.Project+"/fgs/functions/private/invocations", []byte("{}"), nil)
	wantRawError(t, "invoke in another project's path", r, 403, "FSS.0403")
	// The owner still can.
	if got := s.invokeOK(t, urn, `{}`, nil); got.Result != "secret" {
		t.Errorf("owner's invocation: result %q", got.Result)
	}
}
