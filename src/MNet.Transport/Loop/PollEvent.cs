namespace MNet.Transport.Loop;

/// <summary>One readiness notification: the token given at registration and what became ready.</summary>
internal readonly record struct PollEvent(ulong Token, PollEvents Events);
