using MNet.Transport.Loop;

namespace MNet.Transport.Tcp;

/// <summary>Accepts on one listening socket of a <see cref="NativeConnectionListener"/>, on one loop.</summary>
internal interface IConnectionAcceptor
{
    EventLoop Loop { get; }

    /// <summary>Starts accepting. Loop thread.</summary>
    void Start();

    /// <summary>Stops accepting and closes the listening socket. Loop thread.</summary>
    void Stop();
}
