namespace MNet.Transport.Udp;

/// <summary>Socket options a <see cref="UdpChannel"/> is bound with.</summary>
public sealed class UdpChannelOptions
{
    /// <summary>
    /// Lets other sockets bind the same address and port (SO_REUSEADDR), as several receivers of one multicast group
    /// need. Defaults to false.
    /// </summary>
    public bool ReuseAddress { get; set; }

    /// <summary>The kernel's receive buffer in bytes (SO_RCVBUF), or null for the system default.</summary>
    public int? ReceiveBufferSize { get; set; }

    /// <summary>The kernel's send buffer in bytes (SO_SNDBUF), or null for the system default.</summary>
    public int? SendBufferSize { get; set; }

    internal void Validate()
    {
        if (ReceiveBufferSize is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ReceiveBufferSize), ReceiveBufferSize, "The receive buffer size must be positive.");
        }
        if (SendBufferSize is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(SendBufferSize), SendBufferSize, "The send buffer size must be positive.");
        }
    }
}
