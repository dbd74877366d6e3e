/**
 * Runs the terminal client's screen until the user quits: the terminal's alternate screen (so the shell's scroll-back
 * is left as it was, as less and vim do), raw keys, and the screen restored however it ends.
 */
import { render } from 'ink';
import { App } from './App.js';
import type { ChatClient } from '../client/index.js';

const ENTER_ALTERNATE_SCREEN = '\u001b[?1049h\u001b[H';
const LEAVE_ALTERNATE_SCREEN = '\u001b[?1049l';

export interface RunAppOptions {
  readonly client: ChatClient;
  readonly place: string;
  readonly stdout?: NodeJS.WriteStream;
  readonly stdin?: NodeJS.ReadStream;
}

/** Resolves with the reason the user gave when quitting. */
export async function runApp({ client, place, stdout = process.stdout, stdin = process.stdin }: RunAppOptions): Promise<string> {
  let reason = 'Leaving';
  stdout.write(ENTER_ALTERNATE_SCREEN);
  const restore = (): void => {
    stdout.write(LEAVE_ALTERNATE_SCREEN);
  };
  process.once('exit', restore);
  try {
    const instance = render(
      <App
        client={client}
        place={place}
        colors={stdout.hasColors()}
        onQuit={(why) => {
          reason = why;
        }}
      />,
      // Ctrl+C is a key of the app (it quits with QUIT sent), not a kill.
      { stdout, stdin, exitOnCtrlC: false, patchConsole: true },
    );
    await instance.waitUntilExit();
  } finally {
    process.off('exit', restore);
    restore();
  }
  return reason;
}
