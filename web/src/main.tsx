/** The web client's entry: applies the remembered theme, then mounts the app into #app (web/index.html). */
// The global styles first: the components' own stylesheets come after them and may refine them.
import './main.css';
import { render } from 'preact';
import { App, applyTheme } from './App.js';
import { storedTheme } from './storage.js';

applyTheme(storedTheme());
const root = document.getElementById('app');
if (root === null) throw new Error('web/index.html has no #app element');
render(<App />, root);
