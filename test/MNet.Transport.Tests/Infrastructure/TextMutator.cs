using System.Text;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>Seeded mutations of a text for the fuzz tests: junk characters, cuts, long runs, and fragments that mean something to the parser under test.</summary>
internal static class TextMutator
{
    private static readonly char[] s_junk = ['\0', '\r', '\t', ' ', '#', ';', ':', '.', '\n', '[', ']', '%', '-', '+', 'é', '\u0663', '\uFFFF', '9'];

    public static string Mutate(string text, Random random, string[] fragments)
    {
        StringBuilder mutated = new(text);
        for (int edits = random.Next(1, 6); edits > 0; edits--)
        {
            int at = random.Next(mutated.Length + 1);
            switch (random.Next(4))
            {
                case 0:
                    mutated.Insert(at, s_junk[random.Next(s_junk.Length)]);
                    break;
                case 1 when mutated.Length > 0:
                    int from = Math.Min(at, mutated.Length - 1);
                    mutated.Remove(from, Math.Min(random.Next(1, 12), mutated.Length - from));
                    break;
                case 2:
                    mutated.Insert(at, new string((char)random.Next(33, 127), random.Next(1, 300)));
                    break;
                default:
                    mutated.Insert(at, fragments[random.Next(fragments.Length)]);
                    break;
            }
        }
        return mutated.ToString();
    }
}
