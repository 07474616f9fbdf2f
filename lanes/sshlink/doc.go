// Package sshlink is odu's SSH transport: a [Link] to a build host,
// dialled with golang.org/x/crypto/ssh as OpenSSH's ssh would dial it.
//
// The address goes through ~/.ssh/config (HostName, User, Port,
// IdentityFile, IdentitiesOnly, ProxyJump for one hop, UserKnownHostsFile,
// StrictHostKeyChecking, ServerAliveInterval, ServerAliveCountMax,
// ConnectTimeout); authentication tries the IdentityFile keys, then the
// agent's ($SSH_AUTH_SOCK, closed once the handshake is over), then the
// default ~/.ssh/id_* keys (an encrypted key the agent does not hold is
// skipped with a note: odu never prompts); host keys are checked against
// known_hosts. An unknown host is refused unless StrictHostKeyChecking is
// accept-new (or no) for it; a changed key always is.
//
// Keep-alives: every ServerAliveInterval (default 5 s) a link sends a
// keepalive@openssh.com request and waits as long for the answer; after
// ServerAliveCountMax (default 3) failures in a row it ends. So a dead link
// is noticed within interval × (count + 1): 20 s by default. [Link.Close]
// ends a link and waits for its goroutines.
//
// Rules:
//
//   - It knows nothing of runners or runs: it dials, runs commands and
//     opens sessions; what they run is the caller's.
//   - A failed dial is a *[HostError] that names the host once and says
//     how far the dial got ([Stage]: connect, host key, auth), so a caller
//     tells the stages apart by [StageOf], never by the message. Every
//     error has a Hint method when there is something to do.
package sshlink
