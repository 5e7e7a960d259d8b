using System.IO.Pipelines;

namespace MNet.Transport.Tcp;

/// <summary>The application's side of a connection: it reads the input pipe and writes the output pipe.</summary>
internal sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
{
    public PipeReader Input { get; } = input;

    public PipeWriter Output { get; } = output;
}
