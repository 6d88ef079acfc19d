/**
 * The library as a user meets it: a remote URL opened with openRemote (so the
 * retry and bandwidth decorators are in place), then the Container API —
 * uploadObject / downloadObject for whole files, put / head for small objects.
 */
import { openRemote, type OpenOptions, type Remote } from '../../drivers/remote.js';
import type { BenchClient, UploadMethod } from './client.js';

export class LibraryClient implements BenchClient {
  readonly uploads: readonly UploadMethod[];

  private constructor(readonly name: string, readonly reference: boolean, private readonly remote: Remote) {
    this.uploads = [{ label: name, run: async (path, _size, key) => void (await this.container.uploadObject(path, key)) }];
  }

  /** Opens `url`; with `create`, also creates its container (local and memory remotes start empty). */
  static async open(name: string, url: string, options: OpenOptions & { reference?: boolean; create?: boolean } = {}): Promise<LibraryClient> {
    const { reference = false, create = false, ...open } = options;
    const remote = await openRemote(url, open);
    if (create) await remote.driver.createContainer(remote.container.name);
    return new LibraryClient(name, reference, remote);
  }

  private get container() {
    return this.remote.container;
  }

  async download(key: string, dest: string): Promise<void> {
    await this.container.downloadObject(key, dest);
  }

  async putSmall(key: string, body: Buffer): Promise<void> {
    await this.container.put(key, body);
  }

  async head(key: string): Promise<void> {
    await this.container.head(key);
  }

  async remove(keys: string[]): Promise<void> {
    const { errors } = await this.container.deleteMany(keys);
    if (errors.length > 0) throw new Error(`${this.name}: ${errors.length} deletes failed`, { cause: errors[0]?.error });
  }

  close(): Promise<void> {
    return this.remote.close();
  }
}
