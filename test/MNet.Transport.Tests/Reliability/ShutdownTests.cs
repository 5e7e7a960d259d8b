using System.Text.RegularExpressions;
using MNet.Transport.Tests.Infrastructure;

namespace MNet.Transport.Tests.Reliability;

/// <summary>SIGTERM to the WebServer sample on MNet while 32 clients fetch its 11 KB page in a loop.</summary>
public sealed class ShutdownTests
{
    private const int Clients = 32;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Sigterm_UnderLoad_CutsNoResponseShort_StopsTakingConnections_AndExitsCleanly()
    {
        await using SampleProcess server = SampleProcess.StartWebServer("--urls", "http://127.0.0.1:0");
        Uri address = new((await server.WaitForLineAsync(new Regex(@"listening on (http://[^\s,]+)"))).Groups[1].Value);
        byte[] page;
        using (HttpClient probe = new() { BaseAddress = address })
        {
            page = await probe.GetByteArrayAsync("/");
        }

        int completed = 0;
        Task[] clients = [.. Enumerable.Range(0, Clients).Select(_ => Task.Run(async () =>
        {
            using HttpClient client = new() { BaseAddress = address };
            while (true)
            {
                HttpResponseMessage response;
                try
                {
                    response = await client.GetAsync("/", HttpCompletionOption.ResponseHeadersRead);
                }
                catch (HttpRequestException)
                {
                    return; // refused, or closed before a response began: the server has stopped taking requests
                }
                using (response)
                {
                    // Once a response has begun, it must arrive whole: a failure here fails the test.
                    Assert.Equal(page, await response.Content.ReadAsByteArrayAsync());
                }
                Interlocked.Increment(ref completed);
            }
        }))];

        while (Volatile.Read(ref completed) < 1000)
        {
            Assert.False(clients.Any(c => c.IsCompleted), "A client stopped before the server was told to.");
            await Task.Delay(20);
        }
        int exitCode = await server.TerminateAsync(Limit);

        await Task.WhenAll(clients).WaitAsync(Limit); // every client ended by refusal, none by a cut response
        Assert.Equal(0, exitCode);
    }
}
