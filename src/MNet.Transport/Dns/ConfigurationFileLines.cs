namespace MNet.Transport.Dns;

/// <summary>The line format resolv.conf(5) and hosts(5) share: whitespace-separated words, comments to the end of a line.</summary>
internal static class ConfigurationFileLines
{
    /// <summary>The words of each line of <paramref name="text"/> that has any, once a comment (from any of <paramref name="commentStarts"/>) is cut.</summary>
    public static List<string[]> ReadWords(string text, string commentStarts)
    {
        List<string[]> lines = [];
        foreach (ReadOnlySpan<char> line in text.AsSpan().EnumerateLines())
        {
            int comment = line.IndexOfAny(commentStarts);
            string[] words = line[..(comment >= 0 ? comment : line.Length)].ToString().Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (words.Length > 0)
            {
                lines.Add(words);
            }
        }
        return lines;
    }
}
