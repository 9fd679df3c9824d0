package orchestrator.runner;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits a command prefix into words the way a POSIX shell splits simple words: blanks separate,
 * single quotes keep everything, double quotes keep everything but {@code \"} and {@code \\},
 * a backslash outside quotes escapes the next character. No expansion of any kind: no shell runs.
 */
final class ShellWords {
    private ShellWords() {
    }

    static List<String> split(String s) {
        List<String> words = new ArrayList<>();
        StringBuilder w = new StringBuilder();
        boolean inWord = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\'') {
                int end = s.indexOf('\'', i + 1);
                if (end < 0) {
                    throw new IllegalArgumentException("unterminated single quote");
                }
                w.append(s, i + 1, end);
                i = end;
                inWord = true;
            } else if (c == '"') {
                int j = i + 1;
                for (; j < s.length() && s.charAt(j) != '"'; j++) {
                    if (s.charAt(j) == '\\' && j + 1 < s.length() && (s.charAt(j + 1) == '"' || s.charAt(j + 1) == '\\')) {
                        j++;
                    }
                    w.append(s.charAt(j));
                }
                if (j >= s.length()) {
                    throw new IllegalArgumentException("unterminated double quote");
                }
                i = j;
                inWord = true;
            } else if (c == '\\') {
                if (i + 1 >= s.length()) {
                    throw new IllegalArgumentException("trailing backslash");
                }
                w.append(s.charAt(++i));
                inWord = true;
            } else if (Character.isWhitespace(c)) {
                if (inWord) {
                    words.add(w.toString());
                    w.setLength(0);
                    inWord = false;
                }
            } else {
                w.append(c);
                inWord = true;
            }
        }
        if (inWord) {
            words.add(w.toString());
        }
        return words;
    }
}
