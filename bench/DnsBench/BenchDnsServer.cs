using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace DnsBench;

/// <summary>
/// The fastest server the bench can have, so the resolvers are what is measured: one blocking socket that answers
/// every A question with 127.0.0.1 and every other type with no data.
/// </summary>
internal static class BenchDnsServer
{
    public static int Serve(int port)
    {
        using Socket socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
        Console.WriteLine("ready");
        byte[] message = new byte[512 + 16];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        while (true)
        {
            int length = socket.ReceiveFrom(message, 0, 512, SocketFlags.None, ref from);
            int end = QuestionEnd(message, length);
            if (end < 0)
            {
                continue;
            }
            message[2] = 0x81; // QR, RD
            message[3] = 0x80; // RA, NOERROR
            message.AsSpan(6, 6).Clear();
            if (BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(end - 4)) == 1)
            {
                message[7] = 1;
                ReadOnlySpan<byte> answer = [0xC0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 127, 0, 0, 1]; // the question's name, A, IN, TTL 300
                answer.CopyTo(message.AsSpan(end));
                end += answer.Length;
            }
            socket.SendTo(message, 0, end, SocketFlags.None, from);
        }
    }

    private static int QuestionEnd(byte[] message, int length)
    {
        int offset = 12;
        while (offset < length && message[offset] != 0)
        {
            offset += 1 + message[offset];
        }
        return offset + 5 <= length ? offset + 5 : -1;
    }
}
