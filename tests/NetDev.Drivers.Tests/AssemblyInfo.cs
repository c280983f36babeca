// The kernel tests each build two namespaces and push traffic through user-space threads; on a small
// machine running them one at a time keeps every wait far from its bound.
[assembly: Xunit.v3.Parallelization(Mode = Xunit.Sdk.ParallelMode.None)]
