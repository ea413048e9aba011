import { Link } from '../router';
import { useSession } from '../session';

const STEPS: [string, string, string][] = [
  ['/datanets', 'Contribute data', 'Find a datanet or create one, drop a file of rows, see what passes, sign and upload.'],
  ['/factory', 'Fine-tune', 'Pick a base model and datanet versions, set a few knobs, watch the loss fall.'],
  ['/playground', 'Chat', 'Talk to any model on the node, with streaming, sampling controls and token costs.'],
  ['/models', 'Browse models', 'Every registered model with its owner, base and price.'],
];

export function Home() {
  const { session } = useSession();
  return (
    <section>
      <h1>From a file of rows to your own model</h1>
      <p className="lead">Community data, fine-tuned and served models, every step recorded on chain.</p>
      {!session && (
        <p>
          <Link to="/signin" className="button">
            Sign in to start
          </Link>
        </p>
      )}
      <ol className="steps">
        {STEPS.map(([to, title, text]) => (
          <li key={to} className="card">
            <h2>
              <Link to={to}>{title}</Link>
            </h2>
            <p>{text}</p>
          </li>
        ))}
      </ol>
    </section>
  );
}
