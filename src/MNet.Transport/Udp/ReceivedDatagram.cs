namespace MNet.Transport.Udp;

/// <summary>Where one datagram of a <see cref="DatagramReceiveBatch"/> landed: its slot, length, truncation and sender.</summary>
internal readonly record struct ReceivedDatagram(int Index, int Length, bool IsTruncated, int AddressLength);
