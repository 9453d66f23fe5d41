// The tests run real Linux tools (sshd, bash, git, the host wrapper) and use Unix file modes.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
