export { StatusError, statusOf, nbdErrnoOf, reasonOf, NbdErrno } from './status-error.js';
