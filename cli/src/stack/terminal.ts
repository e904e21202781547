import { MultiBar, Presets } from 'cli-progress';

/** ANSI colour codes handed out to the output sources in turn. */
const SOURCE_COLOURS = [36, 35, 34, 33, 32, 96, 95, 94, 93, 92, 91];
/** The colour of the command's own lines. */
const OWN_COLOUR = 1;
const RESET = '\u001b[0m';
/** Redraws per second of the progress bar; more only costs CPU. */
const PROGRESS_FPS = 10;
const PROGRESS_BAR_WIDTH = 24;

export type Paint = (code: number, text: string) => string;

export interface Progress {
  /** `ready` of the total are up; `waitingFor` names the rest. */
  update(ready: number, waitingFor: readonly string[]): void;
  stop(): void;
}

/**
 * The person at the terminal: every line is prefixed with its source, padded to one column and
 * coloured when stdout is a terminal. While a progress bar is drawn, lines go above it.
 */
export interface Terminal {
  readonly interactive: boolean;
  readonly paint: Paint;
  print(source: string, text: string): void;
  /** A line of bank-cli's own. */
  say(text: string): void;
  progress(total: number): Progress;
}

export const OWN_SOURCE = 'bank-cli';

export function createTerminal(stream: NodeJS.WriteStream, sourceNames: readonly string[], env: NodeJS.ProcessEnv): Terminal {
  const interactive = stream.isTTY === true;
  // https://no-color.org: colours stay off when NO_COLOR is set, even on a terminal.
  const coloured = interactive && (env.NO_COLOR === undefined || env.NO_COLOR === '');
  const paint: Paint = (code, text) => (coloured ? `\u001b[${code}m${text}${RESET}` : text);
  const width = Math.max(OWN_SOURCE.length, ...sourceNames.map((n) => n.length));
  const colours = new Map<string, number>([[OWN_SOURCE, OWN_COLOUR]]);
  let bar: MultiBar | undefined;

  const colourOf = (source: string): number => {
    let colour = colours.get(source);
    if (colour === undefined) {
      colour = SOURCE_COLOURS[(colours.size - 1) % SOURCE_COLOURS.length] ?? 0;
      colours.set(source, colour);
    }
    return colour;
  };
  // Sources get their colours in the order they are listed, so every run looks the same.
  for (const name of sourceNames) colourOf(name);

  const write = (line: string) => {
    if (bar !== undefined) bar.log(`${line}\n`);
    else stream.write(`${line}\n`);
  };

  const print = (source: string, text: string) => {
    const prefix = paint(colourOf(source), source.padEnd(width));
    for (const line of text.split('\n')) write(`${prefix} | ${line}`);
  };

  return {
    interactive,
    paint,
    print,
    say: (text) => print(OWN_SOURCE, text),
    progress(total) {
      if (!interactive) {
        // Without a terminal a bar would be noise in a log file: one line per change instead.
        let last = -1;
        return {
          update: (ready, waitingFor) => {
            if (ready === last) return;
            last = ready;
            print(OWN_SOURCE, `${ready}/${total} ready${waitingFor.length > 0 ? `; waiting for ${waitingFor.join(', ')}` : ''}`);
          },
          stop: () => undefined,
        };
      }
      const multi = new MultiBar(
        {
          stream,
          format: `${OWN_SOURCE.padEnd(width)} | starting [{bar}] {value}/{total} ready | {waiting}`,
          barsize: PROGRESS_BAR_WIDTH,
          fps: PROGRESS_FPS,
          hideCursor: true,
          clearOnComplete: true,
          stopOnComplete: false,
          gracefulExit: false,
          linewrap: false,
          noTTYOutput: false,
          autopadding: true,
        },
        Presets.shades_classic,
      );
      const single = multi.create(total, 0, { waiting: '' });
      bar = multi;
      return {
        update: (ready, waitingFor) => single.update(ready, { waiting: waitingFor.length > 0 ? `waiting for ${waitingFor.join(', ')}` : 'all ready' }),
        stop: () => {
          if (bar !== multi) return;
          // stop() drops lines still queued for the next redraw; one last redraw writes them.
          multi.update();
          multi.stop();
          bar = undefined;
        },
      };
    },
  };
}
