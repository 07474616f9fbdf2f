// Package hosts says where a run's lanes run: the hosts file, --host
// flags, and the secrets list the file names. It parses host addresses
// once, for every part of odu ([ParseAddr]).
//
// A lane is one platform's runner, and a [Host] says where it runs: on
// "localhost" (a local subprocess, no SSH) or at an address ssh would
// dial (host, user@host, user@host:port, or a Host alias of
// ~/.ssh/config). [LoadHosts] finds the configuration in effect:
//
//   - The hosts file is $ODU_HOSTS when that is set (a path; a missing or
//     unreadable file is then an error, never a silent fallback), else
//     ~/.config/odu/hosts.json, else ~/.config/justci/hosts.json (the
//     same format, so a justci user migrates with no configuration).
//     When $XDG_CONFIG_HOME is set to an absolute path, it replaces
//     ~/.config in both. With no file at all, there is one lane: the local
//     platform on "localhost".
//   - The file is a JSON object from platform name (a Nix system tuple,
//     case-sensitive) to its [Pool] of build hosts, with one optional
//     extra key, "secrets": a list of environment variable names. A pool
//     is one address (a justci file works unchanged), a list, or objects
//     {"host": ADDR, "slots": N} (N from 1, 1 when left out); a list may
//     mix both. Anything else in it (a slot count of 0, a host twice, in
//     one pool or in two, an unknown key) is an error that names the
//     file, the line and column, and the key; a key may appear only once.
//   - Each --host PLAT=ADDR flag pins one platform's lane for this run to
//     one host (with its slots when the pool has it, else one), over what
//     the file (or the default) gives, or adds one.
//   - A lane leases a slot of its pool ([Host.Leased]), except the one
//     local lane of a machine with no hosts file: there is no pool to
//     share.
//   - An address may not be empty, hold whitespace or control characters,
//     start with '-' (ssh would read it as an option), have an empty user
//     before '@', or a port after ':' that is not a number in 1-65535.
//     Beyond that odu does not second-guess what ssh can resolve.
//
// [HostsConfig.Lanes] picks the lanes for the platforms a run asks for; a
// platform asked but not configured is an error that says where odu
// looked and how to add it.
//
// The secrets list names environment variables whose values a run hands
// its recipes and masks in their logs ([LoadSecrets]).
//
// Rules: nothing here does I/O beyond reading the hosts file and the
// environment it is given, and nothing dials a host. Every error is the
// user's to fix; those of the hosts file and its entries say how (a
// Hint method), an [AddrError] names the address and what is wrong
// with it.
package hosts
